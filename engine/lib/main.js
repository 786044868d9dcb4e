'use strict';
// The query-engine command: parses the native engine's command line, loads the schema, connects
// (retrying while the database is unreachable), serves HTTP on loopback, and stops cleanly on
// SIGINT/SIGTERM.

const fs = require('node:fs');
const path = require('node:path');
const log = require('./log');
const { QuerySchema, loadDmmf } = require('./schema');
const { poolConfig, datasourceUrl, UrlError } = require('./dburl');
const { translateRequest, translateResponse, translateTransactionResponse } = require('./translate');
const { loadWasmEngine, createPool, negotiateTls, createEngine, ENGINE_COMMIT } = require('./engine');
const { createHandler, listenLoopback } = require('./server');

const USAGE = `usage: query-engine --version | -p PORT [--enable-metrics] [--enable-raw-queries]
environment: PRISMA_DML_PATH (schema file), OVERWRITE_DATASOURCES or the schema's url variable,
LOG_QUERIES, RUST_LOG`;

class UsageError extends Error {}

function parseArgs(argv) {
  const options = { port: undefined, version: false, help: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--version' || arg === '-V' || arg === 'version') options.version = true;
    else if (arg === '--help' || arg === '-h') options.help = true;
    else if (arg === '-p' || arg === '--port') options.port = argv[++i];
    else if (arg.startsWith('--port=')) options.port = arg.slice('--port='.length);
    else if (arg.startsWith('--enable-') || arg === '--debug') continue; // native-engine switches
    else throw new UsageError(`unknown argument ${arg}`);
  }
  if (options.port !== undefined) {
    const port = Number(options.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError('-p needs a port number');
    options.port = port;
  }
  return options;
}

const RUST_LEVELS = new Set(['error', 'warn', 'info', 'debug', 'trace', 'off']);

function engineLogLevel(env) {
  const level = (env.RUST_LOG || 'error').toLowerCase();
  return RUST_LEVELS.has(level) ? level : 'error';
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

function errorBody(message, isPanic) {
  return { errors: [{ error: message, user_facing_error: { is_panic: Boolean(isPanic), message } }] };
}

class Bridge {
  constructor({ schema, datamodel, database, env }) {
    this.schema = schema;
    this.datamodel = datamodel;
    this.database = database;
    this.env = env;
    this.engine = null;
    this.adapter = null;
    this.pool = null;
    this.lastError = 'the query engine is connecting to the database';
    this.stopping = false;
  }

  /** Connect, retrying with backoff while the database cannot be reached. */
  async start() {
    const bindings = await loadWasmEngine();
    let delay = 250;
    let attempt = 0;
    while (!this.stopping) {
      attempt += 1;
      try {
        await this.connectOnce(bindings);
        if (attempt > 1) log.info('connected to the database', { attempts: attempt });
        return;
      } catch (error) {
        this.lastError = `cannot connect to the database: ${error.message}`;
        log.error(this.lastError, { attempt, retry_in_ms: delay });
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  async connectOnce(bindings) {
    const { database } = this;
    if (!this.pool) {
      const config = { ...database.pool };
      if (database.preferTls) config.ssl = await negotiateTls(config, database.preferTls, database.connectTimeoutMs);
      this.pool = createPool(config, database.connectTimeoutMs, (error) =>
        log.error('database connection lost', { reason: error.message }),
      );
    }
    const client = await this.pool.connect();
    try {
      await client.query('SELECT 1');
    } finally {
      client.release();
    }
    const { engine, adapter } = await createEngine(bindings, {
      datamodel: this.datamodel,
      pool: this.pool,
      schema: database.schema,
      logLevel: engineLogLevel(this.env),
      logQueries: Boolean(this.env.LOG_QUERIES),
      onLog: (line) => process.stderr.write(`${line}\n`),
    });
    this.engine = engine;
    this.adapter = adapter;
  }

  notReady() {
    return { status: 503, body: errorBody(this.stopping ? 'the query engine is stopping' : this.lastError) };
  }

  async status() {
    return this.engine ? { status: 200, body: { status: 'ok' } } : this.notReady();
  }

  async metrics(format) {
    // The wasm engine keeps no metrics; answer an empty set so metrics readers keep working.
    if (format === 'prometheus') return { status: 200, body: '' };
    return { status: 200, body: { counters: [], gauges: [], histograms: [] } };
  }

  async query(payload, txId) {
    if (!this.engine) return this.notReady();
    const translated = translateRequest(this.schema, payload);
    if (translated.errors) return { status: 200, body: { errors: translated.errors } };
    const text = await this.call(() => this.engine.query(translated.body, '{}', txId));
    const describe = (id) => {
      const found = this.adapter.errorRegistry.consumeError(id);
      return found && found.error ? String(found.error.message || found.error) : undefined;
    };
    return { status: 200, body: translateResponse(JSON.parse(text), translated, describe) };
  }

  async startTransaction(payload) {
    if (!this.engine) return this.notReady();
    const text = await this.call(() => this.engine.startTransaction(JSON.stringify(payload), '{}'));
    return { status: 200, body: translateTransactionResponse(JSON.parse(text)) };
  }

  async endTransaction(id, action) {
    if (!this.engine) return this.notReady();
    const run = action === 'commit' ? 'commitTransaction' : 'rollbackTransaction';
    const text = await this.call(() => this.engine[run](id, '{}'));
    return { status: 200, body: translateTransactionResponse(JSON.parse(text)) };
  }

  // A rejected engine call is a panic or a protocol failure. After a WebAssembly trap the
  // engine's state cannot be trusted: report it and exit, so the client starts a fresh engine.
  async call(operation) {
    try {
      return await operation();
    } catch (error) {
      const trapped = error instanceof WebAssembly.RuntimeError;
      log.error('query engine call failed', { reason: error.message, panic: trapped });
      if (trapped) {
        setTimeout(() => process.exit(70), 100).unref();
        this.engine = null;
        this.lastError = 'the query engine panicked and is restarting';
      }
      return JSON.stringify(errorBody(error.message, trapped));
    }
  }

  async stop() {
    this.stopping = true;
    const bounded = (promise) => Promise.race([promise.catch(() => {}), sleep(3000)]);
    if (this.engine) await bounded(this.engine.disconnect('{}'));
    if (this.pool) await bounded(this.pool.end());
  }
}

async function main(argv, env) {
  let options;
  try {
    options = parseArgs(argv);
  } catch (error) {
    process.stderr.write(`query-engine: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (options.version) {
    process.stdout.write(`query-engine ${ENGINE_COMMIT}\n`);
    return 0;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (options.port === undefined) {
    process.stderr.write(`query-engine: -p PORT is required\n${USAGE}\n`);
    return 2;
  }

  log.setLevel(env.RUST_LOG);
  let bridge;
  try {
    if (!env.PRISMA_DML_PATH) throw new UrlError('PRISMA_DML_PATH is not set: it names the schema file');
    const datamodel = fs.readFileSync(env.PRISMA_DML_PATH, 'utf8');
    const schema = new QuerySchema(loadDmmf(datamodel));
    const database = poolConfig(datasourceUrl(datamodel, env), path.dirname(path.resolve(env.PRISMA_DML_PATH)));
    for (const warning of database.warnings) log.warn(warning);
    bridge = new Bridge({ schema, datamodel, database, env });
  } catch (error) {
    log.error(`cannot start: ${error.message}`);
    return 1;
  }

  let servers;
  try {
    servers = await listenLoopback(
      createHandler(bridge, (error) => log.error('request failed', { reason: error.message })),
      options.port,
    );
  } catch (error) {
    log.error(`cannot listen on port ${options.port}: ${error.message}`);
    return 1;
  }

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) process.exit(130); // a second signal: do not wait any longer
    stopping = true;
    for (const server of servers) {
      server.close();
      server.closeIdleConnections && server.closeIdleConnections();
    }
    await bridge.stop();
    log.info('stopped', { signal });
    process.exit(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  await bridge.start();
  return null; // keep serving
}

module.exports = { main, parseArgs };
