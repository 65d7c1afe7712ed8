import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Endpoint } from '../../lib/endpoint.ts';
import { silentLogger } from '../../lib/logger.ts';
import { sipMessagesTotal } from '../../runtime/metrics.ts';
import { startAdmin } from './index.ts';
import { createServicesRegistry } from './registry.ts';

const edgeEndpoint: Endpoint = {
  service: 'access-edge',
  side: 'external',
  transport: 'tls',
  host: '127.0.0.1',
  port: 5061,
};

function raw(
  port: number,
  method: string,
  path: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin service', () => {
  test('serves healthz, readyz, metrics and status over HTTP; refuses the rest', async () => {
    const registry = createServicesRegistry();
    sipMessagesTotal(registry).inc({ service: 'access-edge', direction: 'in', kind: 'OPTIONS' });
    let ready = false;
    const admin = await startAdmin({
      host: '127.0.0.1',
      port: 0,
      registry,
      version: '9.9.9',
      getEndpoints: () => [edgeEndpoint, ...admin.endpoints],
      getStatus: () => ({ 'access-edge': { connections: 2 } }),
      isReady: () => ready,
      logger: silentLogger,
    });
    try {
      assert.equal(admin.name, 'admin');
      const [endpoint] = admin.endpoints;
      assert.ok(endpoint);
      assert.deepEqual(
        { ...endpoint, port: 0 },
        { service: 'admin', side: 'internal', transport: 'http', host: '127.0.0.1', port: 0 },
      );
      assert.ok(endpoint.port > 0);
      const port = endpoint.port;

      assert.equal((await raw(port, 'GET', '/healthz')).status, 200);
      assert.equal((await raw(port, 'GET', '/readyz')).status, 503, 'not ready while starting');
      ready = true;
      assert.equal((await raw(port, 'GET', '/readyz')).status, 200);
      assert.equal((await raw(port, 'GET', '/readyz?verbose=1')).status, 200);

      const metrics = await raw(port, 'GET', '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(String(metrics.headers['content-type']), /^text\/plain/);
      assert.match(
        metrics.body,
        /rampart_sip_messages_total\{service="access-edge",direction="in",kind="OPTIONS"\} 1/,
      );
      assert.match(metrics.body, /rampart_process_cpu_seconds_total/);

      const status = await raw(port, 'GET', '/api/status');
      assert.equal(status.status, 200);
      assert.match(String(status.headers['content-type']), /^application\/json/);
      const body = JSON.parse(status.body) as {
        version: string;
        uptimeSeconds: number;
        endpoints: Endpoint[];
        services: Record<string, Record<string, number>>;
      };
      assert.equal(body.version, '9.9.9');
      assert.equal(typeof body.uptimeSeconds, 'number');
      assert.deepEqual(body.endpoints, [edgeEndpoint, endpoint]);
      assert.equal(body.services['access-edge']?.connections, 2);

      const head = await raw(port, 'HEAD', '/api/status');
      assert.equal(head.status, 200);
      assert.equal(head.body, '');

      assert.equal((await raw(port, 'GET', '/')).status, 404);
      assert.equal((await raw(port, 'GET', '/metrics/../etc')).status, 404);
      const post = await raw(port, 'POST', '/healthz');
      assert.equal(post.status, 405);
      assert.equal(post.headers.allow, 'GET, HEAD');
      assert.equal((await raw(port, 'DELETE', '/api/status')).status, 405);

      ready = false;
      assert.equal((await raw(port, 'GET', '/readyz')).status, 503, 'draining');
    } finally {
      await admin.close(Date.now());
      await admin.close(Date.now());
    }
    await assert.rejects(raw(admin.endpoints[0]!.port, 'GET', '/healthz'), {
      code: 'ECONNREFUSED',
    });
  });

  test('a port already in use fails the start', async () => {
    const options = {
      host: '127.0.0.1',
      port: 0,
      registry: createServicesRegistry(),
      version: '0',
      getEndpoints: () => [],
      getStatus: () => ({}),
      isReady: () => true,
      logger: silentLogger,
    };
    const first = await startAdmin(options);
    try {
      await assert.rejects(startAdmin({ ...options, port: first.endpoints[0]!.port }), {
        code: 'EADDRINUSE',
      });
    } finally {
      await first.close(Date.now());
    }
  });
});
