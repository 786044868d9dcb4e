'use strict';
// Builds the query engine: Prisma's WebAssembly query engine (the build prisma-client-py 0.15
// expects, 393aa359) on a pg pool through Prisma's pg driver adapter.

const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const pg = require('pg');
const { PrismaPg } = require('@prisma/adapter-pg');
const { bindAdapter } = require('@prisma/driver-adapter-utils');
const { patchClient } = require('./catalog');

const ENGINE_COMMIT = '393aa359c9ad4a4bb28630fb5613f9c281cde053';

/** Instantiate the wasm engine's PostgreSQL build → its JS bindings (QueryEngine, …). */
async function loadWasmEngine() {
  const dir = path.join(path.dirname(require.resolve('@prisma/query-engine-wasm/package.json')), 'postgresql');
  const bindings = await import(pathToFileURL(path.join(dir, 'query_engine_bg.js')).href);
  const module = new WebAssembly.Module(fs.readFileSync(path.join(dir, 'query_engine_bg.wasm')));
  const instance = new WebAssembly.Instance(module, { './query_engine_bg.js': bindings });
  bindings.__wbg_set_wasm(instance.exports);
  const { commit } = bindings.getBuildTimeInfo();
  if (commit !== ENGINE_COMMIT) {
    throw new Error(`the installed @prisma/query-engine-wasm is build ${commit}, expected ${ENGINE_COMMIT}`);
  }
  return bindings;
}

/** A pg Pool whose clients connect within `connectTimeoutMs` and read catalog types as text. */
function createPool(config, connectTimeoutMs, onClientError) {
  class Client extends pg.Client {
    constructor(options) {
      // pg-pool keeps the password as a non-enumerable property: a spread would drop it.
      super({ ...options, password: options.password, connectionTimeoutMillis: connectTimeoutMs });
    }
  }
  const pool = new pg.Pool({ ...config, Client });
  pool.on('connect', (client) => {
    patchClient(client);
    // A checked-out client whose server goes away emits 'error'; unhandled it would end the
    // process. The pool drops the broken client when it is released.
    client.on('error', onClientError);
  });
  pool.on('error', onClientError); // idle clients: the pool has already removed them
  return pool;
}

/**
 * Decide TLS for sslmode=prefer: use `tls` if the server accepts it, plain text if the server
 * refuses TLS (or only accepts plain connections). Throws if neither connects.
 */
async function negotiateTls(config, tls, connectTimeoutMs) {
  const attempt = async (ssl) => {
    const client = new pg.Client({ ...config, ssl, connectionTimeoutMillis: connectTimeoutMs });
    client.on('error', () => {});
    try {
      await client.connect();
    } finally {
      await client.end().catch(() => {});
    }
  };
  try {
    await attempt(tls);
    return tls;
  } catch (tlsError) {
    if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(tlsError.code)) {
      throw tlsError;
    }
    try {
      await attempt(false);
      return false;
    } catch {
      throw tlsError;
    }
  }
}

/** The engine on top of `pool`, connected. `onLog` receives the engine's JSON log lines. */
async function createEngine(bindings, { datamodel, pool, schema, logLevel, logQueries, onLog }) {
  const adapter = bindAdapter(new PrismaPg(pool, schema ? { schema } : undefined));
  const engine = new bindings.QueryEngine({ datamodel, logLevel, logQueries }, onLog, adapter);
  await engine.connect('{}');
  return { engine, adapter };
}

module.exports = { loadWasmEngine, createPool, negotiateTls, createEngine, ENGINE_COMMIT };
