/**
 * The pure parts of forms sign-in: where a sign-in may send the browser afterwards, the
 * HTML of the forms, and the parsing of a submitted form.
 */
import { normaliseTarget } from './path.ts';

/**
 * The path to redirect to after sign-in: only one of ours. The value must be an
 * origin-form target that survives normalisation (no `//host`, no `/\host`, no scheme,
 * no dot segments) and whose path `isOurs` accepts; anything else gives `/`.
 */
export function safeReturnPath(
  value: string | null | undefined,
  isOurs: (path: string) => boolean,
): string {
  if (value === null || value === undefined || value.length > 2048) return '/';
  // `//evil.test` and `/\evil.test` are network-path references to browsers.
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  const target = normaliseTarget(value);
  if (!target.ok || !isOurs(target.path)) return '/';
  return target.path + target.query;
}

function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** What the sign-in page shows. */
export interface SignInPage {
  readonly action: string;
  readonly csrf: string;
  readonly returnTo: string;
  readonly message?: string | undefined;
}

/** The sign-in form. */
export function signInHtml(page: SignInPage): string {
  const message =
    page.message === undefined ? '' : `<p role="alert">${escapeHtml(page.message)}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Sign in</h1>${message}
<form method="post" action="${escapeHtml(page.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(page.csrf)}">
<input type="hidden" name="return" value="${escapeHtml(page.returnTo)}">
<label>User <input name="user" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form></main></body></html>
`;
}

/** The sign-out page: one button, posting the session's CSRF token. */
export function signOutHtml(action: string, csrf: string, user: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign out</title></head>
<body><main><p>Signed in as ${escapeHtml(user)}</p>
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<button type="submit">Sign out</button>
</form></main></body></html>
`;
}

/** The fields of a submitted `application/x-www-form-urlencoded` form. */
export interface SubmittedForm {
  readonly user: string;
  readonly password: string;
  readonly csrf: string;
  readonly returnTo: string | null;
}

/** Parses a sign-in or sign-out submission; missing fields are empty strings. */
export function parseForm(body: string): SubmittedForm {
  const params = new URLSearchParams(body);
  return {
    user: params.get('user') ?? '',
    password: params.get('password') ?? '',
    csrf: params.get('csrf') ?? '',
    returnTo: params.get('return'),
  };
}
