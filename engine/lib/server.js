'use strict';
// The native query engine's HTTP interface, as prisma-client-py uses it: GET /status, POST /
// (single and batch queries, X-transaction-id), POST /transaction/start, POST
// /transaction/{id}/commit|rollback, GET /metrics. Engine errors are HTTP 200 with `errors`.

const http = require('node:http');

const BODY_LIMIT = 256 * 1024 * 1024;

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > BODY_LIMIT) {
        reject(new HttpError(413, 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text, what) {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, `${what} is not valid JSON`);
  }
}

function send(res, status, payload) {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': typeof payload === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

const TRANSACTION = /^\/transaction\/([^/]+)\/(commit|rollback)$/;

/**
 * The request handler over `app`, whose methods resolve `{status, body}`: status(),
 * query(payload, txId), startTransaction(payload), endTransaction(id, 'commit'|'rollback'),
 * metrics(format).
 */
function createHandler(app, onError) {
  return async (req, res) => {
    try {
      const { pathname, searchParams } = new URL(req.url, 'http://localhost');
      const text = await readBody(req);
      let reply;
      if (req.method === 'GET' && pathname === '/status') {
        reply = await app.status();
      } else if (req.method === 'GET' && pathname === '/metrics') {
        reply = await app.metrics(searchParams.get('format') || 'json');
      } else if (req.method === 'POST' && pathname === '/') {
        const txId = req.headers['x-transaction-id'];
        reply = await app.query(parseJson(text, 'the request body'), txId || undefined);
      } else if (req.method === 'POST' && pathname === '/transaction/start') {
        reply = await app.startTransaction(parseJson(text, 'the transaction options'));
      } else if (req.method === 'POST' && TRANSACTION.test(pathname)) {
        const [, id, action] = TRANSACTION.exec(pathname);
        reply = await app.endTransaction(decodeURIComponent(id), action);
      } else {
        throw new HttpError(404, `no route for ${req.method} ${pathname}`);
      }
      send(res, reply.status, reply.body);
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      if (status === 500) onError(error);
      const message = error.message || String(error);
      if (!res.headersSent) {
        send(res, status, {
          errors: [{ error: message, user_facing_error: { is_panic: false, message } }],
        });
      }
    }
  };
}

/**
 * Listen on `port` on 127.0.0.1 and, where IPv6 exists, ::1 (prisma-client-py connects to
 * `localhost`, which may resolve to either). Resolves the listening servers.
 */
async function listenLoopback(handler, port) {
  const listen = (host) =>
    new Promise((resolve, reject) => {
      const server = http.createServer(handler);
      // httpx keeps idle connections for 5 s: outlive that so a reused connection is never
      // closed under a request. Long queries are the engine's business, not a server timeout.
      server.keepAliveTimeout = 65_000;
      server.headersTimeout = 66_000;
      server.requestTimeout = 0;
      server.once('error', reject);
      server.listen({ port, host, exclusive: true }, () => {
        server.removeListener('error', reject);
        resolve(server);
      });
    });
  const servers = [await listen('127.0.0.1')];
  try {
    servers.push(await listen('::1'));
  } catch (error) {
    // No IPv6 loopback here: localhost can only mean 127.0.0.1. Anything else (the port taken
    // on ::1) would let the client reach another process: refuse to run.
    if (error.code !== 'EADDRNOTAVAIL' && error.code !== 'EAFNOSUPPORT') {
      for (const server of servers) server.close();
      throw error;
    }
  }
  return servers;
}

module.exports = { createHandler, listenLoopback };
