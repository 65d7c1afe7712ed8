// `rampart user ...` and `rampart group ...` run as an operator runs them: the real bin, a
// temporary --data-dir, and the resulting SQLite directory checked through its own class.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SqliteDirectory } from '../../src/store/sqlite-directory.ts';

const BIN = new URL('../../bin/rampart.mjs', import.meta.url).pathname;

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe('rampart user / group (CLI)', () => {
  let root: string;
  let dataDir: string;

  const run = (args: readonly string[], dir = dataDir): Run => {
    const result = spawnSync(process.execPath, [BIN, ...args, '--data-dir', dir], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  /** Asserts the exit code and, for failures, one line on stderr matching `pattern`. */
  const expectFailure = (result: Run, status: number, pattern: RegExp): void => {
    assert.equal(result.status, status, `exit ${String(result.status)}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
    if (status !== 2) assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  };
  const ok = (result: Run): Run => {
    assert.equal(result.status, 0, result.stderr);
    return result;
  };
  /** Reads the directory the CLI wrote, directly. */
  const inspect = async <T>(body: (directory: SqliteDirectory) => Promise<T>): Promise<T> => {
    const directory = SqliteDirectory.open({
      path: join(dataDir, 'directory.sqlite'),
      realms: ['example.test'],
    });
    try {
      return await body(directory);
    } finally {
      await directory.close();
    }
  };

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'rampart-user-cli-'));
    dataDir = join(root, 'data');
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  test('user add: canonical address, names, secrets; the directory file is created', async () => {
    const added = ok(
      run([
        'user',
        'add',
        'sip:Alice@EXAMPLE.test',
        '--password',
        'wonderland',
        '--name',
        'Alice Liddell',
        '--email',
        'alice@mail.test',
      ]),
    );
    assert.equal(added.stdout, 'added Alice@example.test\n');
    assert.ok(existsSync(join(dataDir, 'directory.sqlite')));
    ok(run(['user', 'add', 'bob@example.test', '--password', 'builder']));
    await inspect(async (directory) => {
      const alice = await directory.getUser('Alice@example.test');
      assert.equal(alice?.displayName, 'Alice Liddell');
      assert.equal(alice.email, 'alice@mail.test');
      assert.equal(await directory.verifyPassword('Alice@example.test', 'wonderland'), true);
      assert.equal(
        await directory.digestHa1('Alice@example.test', 'example.test', 'MD5'),
        createHash('md5').update('Alice:example.test:wonderland').digest('hex'),
      );
    });
  });

  test('user add errors: duplicate 73, malformed address 65, missing or empty password 2', () => {
    expectFailure(
      run(['user', 'add', 'sip:Alice@EXAMPLE.TEST', '--password', 'x']),
      73,
      /^rampart: user Alice@example\.test exists$/m,
    );
    for (const address of ['alice', 'alice@', 'alice@example.test:5060', 'a b@example.test']) {
      expectFailure(
        run(['user', 'add', address, '--password', 'x']),
        65,
        /^rampart: not a SIP address of a user: /m,
      );
    }
    expectFailure(run(['user', 'add', 'carl@example.test']), 2, /--password/);
    expectFailure(
      run(['user', 'add', 'carl@example.test', '--password', '']),
      2,
      /--password must not be empty/,
    );
  });

  test('user list: sorted tab-separated lines, --prefix, --json', () => {
    const listed = ok(run(['user', 'list']));
    assert.equal(
      listed.stdout,
      'Alice@example.test\tenabled\tAlice Liddell\talice@mail.test\n' +
        'bob@example.test\tenabled\t-\t-\n',
    );
    assert.equal(
      ok(run(['user', 'list', '--prefix', 'bob'])).stdout,
      'bob@example.test\tenabled\t-\t-\n',
    );
    assert.equal(ok(run(['user', 'list', '--prefix', 'zed'])).stdout, '');
    const json = JSON.parse(ok(run(['user', 'list', '--json'])).stdout) as unknown;
    assert.ok(Array.isArray(json));
    assert.deepEqual(
      json.map((user: { address: string }) => user.address),
      ['Alice@example.test', 'bob@example.test'],
    );
    assert.deepEqual(json[1], {
      address: 'bob@example.test',
      displayName: null,
      email: null,
      enabled: true,
      policy: {
        remoteAccess: true,
        federation: true,
        publicIm: false,
        inviteAnonymous: true,
        maxEndpoints: 8,
      },
    });
    assert.deepEqual(JSON.parse(ok(run(['user', 'list', '--json', '--prefix', 'x'])).stdout), []);
  });

  test('user passwd replaces the password; unknown user 67', async () => {
    assert.equal(
      ok(run(['user', 'passwd', 'sip:bob@example.test', '--password', 'new-pw'])).stdout,
      'password changed for sip:bob@example.test\n',
    );
    await inspect(async (directory) => {
      assert.equal(await directory.verifyPassword('bob@example.test', 'new-pw'), true);
      assert.equal(await directory.verifyPassword('bob@example.test', 'builder'), false);
      assert.equal(
        await directory.digestHa1('bob@example.test', 'example.test', 'SHA-256'),
        createHash('sha256').update('bob:example.test:new-pw').digest('hex'),
      );
    });
    expectFailure(
      run(['user', 'passwd', 'nobody@example.test', '--password', 'x']),
      67,
      /^rampart: no user nobody@example\.test$/m,
    );
    expectFailure(run(['user', 'passwd', 'bob@example.test']), 2, /--password/);
  });

  test('user set-policy changes flags and prints the result; bad input 2, unknown 67', async () => {
    const changed = ok(
      run([
        'user',
        'set-policy',
        'bob@example.test',
        '--disable',
        '--remote-access',
        'off',
        '--public-im',
        'on',
        '--federation',
        'off',
        '--invite-anonymous',
        'off',
        '--max-endpoints',
        '2',
      ]),
    );
    assert.equal(
      changed.stdout,
      'bob@example.test: disabled, remote-access off, federation off, public-im on, ' +
        'invite-anonymous off, max-endpoints 2\n',
    );
    ok(run(['user', 'set-policy', 'bob@example.test', '--enable']));
    await inspect(async (directory) => {
      const bob = await directory.getUser('bob@example.test');
      assert.equal(bob?.enabled, true);
      assert.deepEqual(
        { ...bob.policy },
        {
          remoteAccess: false,
          federation: false,
          publicIm: true,
          inviteAnonymous: false,
          maxEndpoints: 2,
        },
      );
    });
    expectFailure(run(['user', 'set-policy', 'bob@example.test']), 2, /nothing to change/);
    expectFailure(
      run(['user', 'set-policy', 'bob@example.test', '--federation', 'maybe']),
      2,
      /maybe/,
    );
    expectFailure(
      run(['user', 'set-policy', 'bob@example.test', '--max-endpoints', '-1']),
      2,
      /max-endpoints/,
    );
    expectFailure(
      run(['user', 'set-policy', 'bob@example.test', '--enable', '--disable']),
      2,
      /cannot be used with/,
    );
    expectFailure(
      run(['user', 'set-policy', 'nobody@example.test', '--enable']),
      67,
      /^rampart: no user nobody@example\.test$/m,
    );
  });

  test('group add, members --add/--remove/--expand, remove; and their errors', () => {
    assert.equal(
      ok(run(['group', 'add', 'sales', '--name', 'Sales team'])).stdout,
      'added group sales\n',
    );
    ok(run(['group', 'add', 'emea']));
    expectFailure(run(['group', 'add', 'sales']), 73, /^rampart: group sales exists$/m);
    expectFailure(run(['group', 'add', ' padded']), 65, /not a group name/);

    assert.equal(
      ok(run(['group', 'members', 'emea', '--add', 'bob@example.test'])).stdout,
      'bob@example.test\n',
    );
    assert.equal(
      ok(run(['group', 'members', 'sales', '--add', 'sip:Alice@example.test', 'emea'])).stdout,
      'Alice@example.test\nemea\n',
    );
    assert.equal(
      ok(run(['group', 'members', 'sales', '--expand'])).stdout,
      'Alice@example.test\nbob@example.test\n',
    );
    // A cycle: emea contains sales contains emea; expansion still lists each user once.
    ok(run(['group', 'members', 'emea', '--add', 'sales']));
    assert.equal(
      ok(run(['group', 'members', 'emea', '--expand'])).stdout,
      'Alice@example.test\nbob@example.test\n',
    );
    expectFailure(
      run(['group', 'members', 'sales', '--add', 'nobody@example.test']),
      67,
      /nobody@example\.test is neither a user nor a group/,
    );
    expectFailure(run(['group', 'members', 'nope']), 67, /^rampart: no group nope$/m);
    expectFailure(
      run(['group', 'members', 'sales', '--remove', 'bob@example.test']),
      67,
      /bob@example\.test is not a member of sales/,
    );
    assert.equal(
      ok(run(['group', 'members', 'sales', '--remove', 'emea'])).stdout,
      'Alice@example.test\n',
    );
    assert.equal(ok(run(['group', 'remove', 'emea'])).stdout, 'removed group emea\n');
    expectFailure(run(['group', 'remove', 'emea']), 67, /^rampart: no group emea$/m);
  });

  test('user remove: gone from the directory and its groups; unknown 67', async () => {
    assert.equal(
      ok(run(['user', 'remove', 'Alice@example.test'])).stdout,
      'removed Alice@example.test\n',
    );
    expectFailure(
      run(['user', 'remove', 'Alice@example.test']),
      67,
      /^rampart: no user Alice@example\.test$/m,
    );
    assert.equal(ok(run(['group', 'members', 'sales'])).stdout, '');
    await inspect(async (directory) => {
      assert.equal(await directory.getUser('Alice@example.test'), undefined);
    });
  });

  test('user import: good lines in, malformed ones reported by line number, exit 65', async () => {
    const file = join(root, 'users.csv');
    writeFileSync(
      file,
      [
        'address,password,name,email',
        'carol@example.test,c-pw,"Carol, ""CJ"" Jones",carol@mail.test',
        'not-an-address,pw,,',
        'sip:Dave@EXAMPLE.test,d-pw',
        'bob@example.test,pw,,',
        'erin@example.test,,Erin,',
        'carol@example.test,again,,',
        'frank@example.test,f-pw,x,y,extra',
        '"unterminated@example.test,pw,,',
        'grace@example.test,"multi',
        'line password",Grace,',
        '',
      ].join('\r\n'),
    );
    const result = run(['user', 'import', file]);
    assert.equal(result.status, 65, result.stderr);
    assert.match(result.stdout, /^imported 3 user\(s\) in [\d.]+ s; 6 line\(s\) rejected$/m);
    for (const [line, reason] of [
      [3, /malformed address "not-an-address"/],
      [5, /user bob@example\.test exists/],
      [6, /empty password/],
      [7, /carol@example\.test already on line 2/],
      [8, /5 fields, the header has 4/],
      [9, /unterminated quoted field|text after a closing quote/],
    ] as const) {
      assert.match(
        result.stderr,
        new RegExp(`users\\.csv:${line}: ${reason.source}`),
        result.stderr,
      );
    }
    // Not a terminal: plain progress lines, no bar.
    assert.match(result.stderr, /^importing 3 user\(s\)$/m);
    await inspect(async (directory) => {
      assert.equal(
        (await directory.getUser('carol@example.test'))?.displayName,
        'Carol, "CJ" Jones',
      );
      assert.equal(await directory.verifyPassword('Dave@example.test', 'd-pw'), true);
      assert.equal(
        await directory.digestHa1('grace@example.test', 'example.test', 'MD5'),
        createHash('md5').update('grace:example.test:multi\r\nline password').digest('hex'),
      );
    });
  });

  test('user import: a clean file exits 0; no header 65; unreadable file 66', () => {
    const clean = join(root, 'clean.csv');
    const lines = ['Address,Password'];
    for (let i = 0; i < 2500; i++) lines.push(`bulk${i}@example.test,pw${i}`);
    writeFileSync(clean, `${lines.join('\n')}\n`);
    const result = ok(run(['user', 'import', clean]));
    assert.match(result.stdout, /^imported 2500 user\(s\) in [\d.]+ s; 0 line\(s\) rejected$/m);
    assert.match(result.stderr, /^imported \d+\/2500$/m, 'periodic progress lines');

    const headless = join(root, 'headless.csv');
    writeFileSync(headless, 'zed@example.test,pw\n');
    expectFailure(run(['user', 'import', headless]), 65, /unknown column "zed@example\.test"/);
    const empty = join(root, 'empty.csv');
    writeFileSync(empty, '');
    expectFailure(run(['user', 'import', empty]), 65, /empty file/);
    expectFailure(run(['user', 'import', join(root, 'missing.csv')]), 66, /cannot read/);
  });

  test('--config: directory.sqlite.file is where the directory goes', () => {
    const config = join(root, 'rampart.yaml');
    const file = join(root, 'elsewhere', 'users.sqlite');
    writeFileSync(config, `directory:\n  sqlite:\n    file: ${file}\n`);
    ok(run(['user', 'add', 'zoe@example.test', '--password', 'pw', '--config', config]));
    assert.ok(existsSync(file));
    assert.match(ok(run(['user', 'list', '--config', config])).stdout, /^zoe@example\.test\t/);
    assert.doesNotMatch(ok(run(['user', 'list'])).stdout, /zoe/);
  });

  test('a directory that cannot be opened exits 69; an invalid configuration 78', () => {
    const blocked = join(root, 'blocked');
    writeFileSync(blocked, 'a file where the data directory should be');
    expectFailure(run(['user', 'list'], blocked), 69, /^rampart: cannot open the directory: /m);
    const config = join(root, 'bad.yaml');
    writeFileSync(config, 'directory:\n  backend: ldap\n');
    const result = run(['user', 'list', '--config', config]);
    assert.equal(result.status, 78, result.stderr);
    assert.match(result.stderr, /directory\.ldap\.url/);
  });
});
