import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWatcherInfo, serializeWatcherInfo, type WatcherInfoDocument } from './watcherinfo.ts';

describe('serializeWatcherInfo', () => {
  test('writes the RFC 3858 §5 shape and parses back', () => {
    const doc: WatcherInfoDocument = {
      version: 0,
      state: 'full',
      lists: [
        {
          resource: 'sip:professor@example.net',
          package: 'presence',
          watchers: [
            {
              id: '8ajksjda7s',
              uri: 'sip:userA@example.net',
              status: 'active',
              event: 'approved',
              durationSubscribedSeconds: 509,
              expirationSeconds: 20,
            },
            {
              id: 'hh8juja87s997-ass7',
              uri: 'sip:userB@example.org',
              status: 'pending',
              event: 'subscribe',
              displayName: 'Mr. "B" & co',
            },
          ],
        },
      ],
    };
    const text = serializeWatcherInfo(doc);
    assert.match(
      text,
      /<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="0" state="full">/,
    );
    assert.match(text, /<watcher-list resource="sip:professor@example.net" package="presence">/);
    assert.match(text, /display-name="Mr\. &quot;B&quot; &amp; co"/);
    const parsed = parseWatcherInfo(text);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.deepEqual(parsed.value, doc);
  });

  test('a partial document with no watchers', () => {
    const text = serializeWatcherInfo({
      version: 7,
      state: 'partial',
      lists: [{ resource: 'sip:a@b', package: 'presence', watchers: [] }],
    });
    const parsed = parseWatcherInfo(text);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.version, 7);
    assert.equal(parsed.value.state, 'partial');
  });

  test('parse refuses a bad status', () => {
    const parsed = parseWatcherInfo(
      '<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="1" state="full"><watcher-list resource="sip:a@b" package="presence"><watcher id="1" status="odd" event="subscribe">sip:c@d</watcher></watcher-list></watcherinfo>',
    );
    assert.equal(parsed.ok, false);
  });
});
