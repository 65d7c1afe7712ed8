// Rampart web access: the browser IM client. One WebSocket to the web services carries
// JSON events (contacts, presence, IM) and commands; the server holds the SIP session.
// Served with its types stripped (no build step); type-checked with web/tsconfig.json.

type PresenceState = 'available' | 'busy' | 'away' | 'offline';

interface Contact {
  address: string;
  name: string | null;
}

type ServerEvent =
  | { type: 'ready'; user: string; displayName: string | null }
  | { type: 'contacts'; contacts: Contact[] }
  | { type: 'presence'; address: string; state: PresenceState; note: string }
  | { type: 'im'; from: string; text: string; at: string }
  | { type: 'sent'; id: string; ok: boolean; status: number }
  | { type: 'search'; results: Contact[] }
  | { type: 'error'; message: string };

const STATE_LABELS: Record<PresenceState, string> = {
  available: 'Available',
  busy: 'Busy',
  away: 'Away',
  offline: 'Offline',
};

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`missing #${id}`);
  return found;
}

const contacts = new Map<string, Contact>();
const presence = new Map<string, { state: PresenceState; note: string }>();
const conversations = new Map<string, { mine: boolean; text: string; failed?: boolean }[]>();
let partner: string | undefined;
let nextId = 1;

const socket = new WebSocket(
  `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/webaccess/ws`,
);

function send(command: object): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(command));
}

function showStatus(text: string): void {
  element('status').textContent = text;
}

function nameOf(address: string): string {
  return contacts.get(address)?.name ?? address.replace(/^sips?:/, '');
}

function renderContacts(): void {
  const list = element('contacts') as HTMLUListElement;
  list.replaceChildren();
  for (const contact of contacts.values()) {
    const shown = presence.get(contact.address) ?? { state: 'offline', note: '' };
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset['address'] = contact.address;
    const name = document.createElement('span');
    name.textContent = `${nameOf(contact.address)} `;
    const state = document.createElement('span');
    state.className = `state state-${shown.state}`;
    state.dataset['state'] = shown.state;
    state.textContent = STATE_LABELS[shown.state] + (shown.note === '' ? '' : ` — ${shown.note}`);
    button.append(name, state);
    button.addEventListener('click', () => {
      openConversation(contact.address);
    });
    item.append(button);
    list.append(item);
  }
}

function renderConversation(): void {
  const list = element('messages') as HTMLOListElement;
  list.replaceChildren();
  if (partner === undefined) return;
  for (const message of conversations.get(partner) ?? []) {
    const item = document.createElement('li');
    item.className = message.mine ? 'mine' : 'theirs';
    item.textContent =
      `${message.mine ? 'Me' : nameOf(partner)}: ${message.text}` +
      (message.failed === true ? ' (not delivered)' : '');
    list.append(item);
  }
}

function openConversation(address: string): void {
  partner = address;
  element('partner').textContent = `With ${nameOf(address)}`;
  const input = element('im') as HTMLInputElement;
  input.disabled = false;
  (element('im-form') as HTMLButtonElement).querySelector('button')?.removeAttribute('disabled');
  renderConversation();
  input.focus();
}

function addMessage(address: string, message: { mine: boolean; text: string }): number {
  const list = conversations.get(address) ?? [];
  list.push(message);
  conversations.set(address, list);
  return list.length - 1;
}

const pending = new Map<string, { address: string; index: number }>();

socket.addEventListener('message', (frame: MessageEvent<string>) => {
  const event = JSON.parse(frame.data) as ServerEvent;
  switch (event.type) {
    case 'ready':
      element('me').textContent = `Signed in as ${event.displayName ?? event.user}`;
      showStatus('');
      break;
    case 'contacts':
      contacts.clear();
      for (const contact of event.contacts) contacts.set(contact.address, contact);
      renderContacts();
      break;
    case 'presence':
      presence.set(event.address, { state: event.state, note: event.note });
      renderContacts();
      break;
    case 'im':
      if (!contacts.has(event.from)) contacts.set(event.from, { address: event.from, name: null });
      addMessage(event.from, { mine: false, text: event.text });
      if (partner === undefined) openConversation(event.from);
      else if (partner === event.from) renderConversation();
      else showStatus(`New message from ${nameOf(event.from)}`);
      renderContacts();
      break;
    case 'sent': {
      const sent = pending.get(event.id);
      pending.delete(event.id);
      if (sent !== undefined && !event.ok) {
        const message = conversations.get(sent.address)?.[sent.index];
        if (message !== undefined) message.failed = true;
        renderConversation();
      }
      break;
    }
    case 'search': {
      const results = element('results') as HTMLUListElement;
      results.replaceChildren();
      for (const result of event.results) {
        const item = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = `Add ${result.name ?? result.address}`;
        button.addEventListener('click', () => {
          send({
            type: 'add-contact',
            address: result.address,
            ...(result.name === null ? {} : { name: result.name }),
          });
        });
        item.append(button);
        results.append(item);
      }
      if (event.results.length === 0) results.textContent = 'Nobody found.';
      break;
    }
    case 'error':
      showStatus(event.message);
      break;
  }
});

socket.addEventListener('close', () => {
  showStatus('Disconnected. Reload the page to sign in again.');
  element('me').textContent = 'Signed out';
});

(element('im-form') as HTMLFormElement).addEventListener('submit', (submit) => {
  submit.preventDefault();
  const input = element('im') as HTMLInputElement;
  const text = input.value.trim();
  if (partner === undefined || text === '') return;
  const id = String(nextId++);
  const index = addMessage(partner, { mine: true, text });
  pending.set(id, { address: partner, index });
  send({ type: 'im', id, to: partner, text });
  input.value = '';
  renderConversation();
});

(element('presence-form') as HTMLFormElement).addEventListener('submit', (submit) => {
  submit.preventDefault();
  const state = (element('presence') as HTMLSelectElement).value as PresenceState;
  const note = (element('note') as HTMLInputElement).value.trim();
  send({ type: 'presence', state, ...(note === '' ? {} : { note }) });
  showStatus(`Status set to ${STATE_LABELS[state]}`);
});

(element('search-form') as HTMLFormElement).addEventListener('submit', (submit) => {
  submit.preventDefault();
  const query = (element('search') as HTMLInputElement).value.trim();
  if (query !== '') send({ type: 'search', query });
});

export {};
