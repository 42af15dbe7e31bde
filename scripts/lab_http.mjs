// What the scripts that talk to the collection server over loopback share: a free port, one
// JSON request against its API, and waiting for it to come up.
import http from 'node:http';
import { createServer } from 'node:net';

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/**
 * A request function for the server on `port`: send(method, path, {token, body, drop}) resolves
 * {status, body (parsed JSON or null), text}, or rejects on a network error. With `drop`, the
 * reply is thrown away once the server has answered (the client never sees it) and the promise
 * rejects with `err.dropped`.
 */
export function sender(port, agent) {
  return function send(method, path, { token, body, drop = false } = {}) {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request({
        host: '127.0.0.1', port, method, path: `/api/v1${path}`, agent,
        headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      }, (res) => {
        if (drop) {
          // The server has answered; the answer is lost on the way.
          res.destroy();
          req.destroy();
          reject(Object.assign(new Error('reply dropped'), { dropped: true }));
          return;
        }
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json = null;
          try { json = JSON.parse(text); } catch { /* not JSON */ }
          resolve({ status: res.statusCode, body: json, text });
        });
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  };
}

/** Resolves once the server answers (a 404 for a study that does not exist). */
export async function waitForServer(send) {
  for (let i = 0; i < 400; i += 1) {
    try {
      const r = await send('GET', '/studies/none');
      if (r.status === 404) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the server did not come up');
}
