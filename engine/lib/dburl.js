'use strict';
// Turns a Prisma PostgreSQL connection URL into pg pool options, giving Prisma's URL parameters
// the meaning the native engine gave them (and TLS modes the meaning libpq gives them). The
// URL is never logged: only parameter names appear in warnings.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

class UrlError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UrlError';
  }
}

const IGNORED = new Set([
  // Prisma-specific knobs with no pg equivalent, or that only matter to the native engine.
  'pgbouncer',
  'statement_cache_size',
  'schema_engine',
  'single_use_connections',
]);

function seconds(params, name, fallback) {
  if (!params.has(name)) return fallback;
  const value = Number(params.get(name));
  if (!Number.isFinite(value) || value < 0) {
    throw new UrlError(`the database URL's ${name} parameter must be a number of seconds`);
  }
  return value;
}

function readFile(file, baseDir, name) {
  const resolved = path.resolve(baseDir, file);
  try {
    return fs.readFileSync(resolved);
  } catch (error) {
    throw new UrlError(`the database URL's ${name} file cannot be read (${error.code || error.message})`);
  }
}

// sslmode as libpq defines it: disable (no TLS), allow/prefer (TLS if the server offers it,
// unverified), require (TLS, unverified unless a root certificate is given, as libpq does),
// verify-ca (chain checked), verify-full (chain and host name checked). Prisma's own
// `sslaccept=strict` upgrades to verify-full, `accept_invalid_certs` disables verification.
function tlsOptions(params, host, baseDir) {
  const mode = (params.get('sslmode') || 'prefer').toLowerCase();
  if (!['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(mode)) {
    throw new UrlError(`the database URL's sslmode must be one of disable, prefer, require, verify-ca, verify-full`);
  }
  if (mode === 'disable') return { ssl: false, prefer: false };
  const ssl = {};
  if (params.has('sslrootcert')) ssl.ca = readFile(params.get('sslrootcert'), baseDir, 'sslrootcert');
  if (params.has('sslcert')) ssl.cert = readFile(params.get('sslcert'), baseDir, 'sslcert');
  if (params.has('sslkey')) ssl.key = readFile(params.get('sslkey'), baseDir, 'sslkey');
  if (params.has('sslidentity')) ssl.pfx = readFile(params.get('sslidentity'), baseDir, 'sslidentity');
  if (params.has('sslpassword')) ssl.passphrase = params.get('sslpassword');

  let verify = 'none';
  if (mode === 'verify-full') verify = 'full';
  else if (mode === 'verify-ca' || (mode === 'require' && ssl.ca)) verify = 'ca';
  const accept = params.get('sslaccept');
  if (accept === 'strict') verify = 'full';
  else if (accept === 'accept_invalid_certs') verify = 'none';
  else if (accept !== null) {
    throw new UrlError(`the database URL's sslaccept must be strict or accept_invalid_certs`);
  }

  if (verify === 'none') {
    ssl.rejectUnauthorized = false;
  } else {
    ssl.rejectUnauthorized = true;
    if (verify === 'ca') ssl.checkServerIdentity = () => undefined;
    else if (host && !host.startsWith('/')) ssl.servername = host;
  }
  return { ssl, prefer: mode === 'prefer' || mode === 'allow' };
}

/**
 * Parse `url` → `{pool, schema, preferTls, warnings}`: `pool` is a pg.Pool config (without
 * `ssl` decided for sslmode=prefer: then `preferTls` holds the TLS options to try first).
 * `baseDir` resolves relative certificate paths, as Prisma resolves them against the schema.
 */
function poolConfig(url, baseDir) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new UrlError('the database URL is not a valid URL');
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') {
    throw new UrlError(`the database URL must start with postgresql:// (found ${parsed.protocol}//)`);
  }
  const params = parsed.searchParams;
  const decode = (text) => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw new UrlError('the database URL has an invalid percent-encoding');
    }
  };
  const host = params.get('host') || decode(parsed.hostname).replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const config = {
    host,
    port: parsed.port ? Number(parsed.port) : Number(params.get('port') || 5432),
    user: decode(parsed.username) || undefined,
    password: parsed.password ? decode(parsed.password) : undefined,
    database: decode(parsed.pathname.replace(/^\//, '')) || undefined,
    max: params.has('connection_limit')
      ? Math.max(1, Math.floor(Number(params.get('connection_limit'))) || 1)
      : os.cpus().length * 2 + 1, // the native engine's default
    // pool_timeout: how long a query waits for a free connection (Prisma's default 10 s; 0 = forever)
    connectionTimeoutMillis: seconds(params, 'pool_timeout', 10) * 1000,
    idleTimeoutMillis: seconds(params, 'max_idle_connection_lifetime', 300) * 1000,
    maxLifetimeSeconds: seconds(params, 'max_connection_lifetime', 0),
    application_name: params.get('application_name') || undefined,
  };
  const connectTimeoutMs = seconds(params, 'connect_timeout', 5) * 1000;
  const socketTimeout = seconds(params, 'socket_timeout', 0);
  if (socketTimeout > 0) config.query_timeout = socketTimeout * 1000;
  if (params.has('options')) config.options = params.get('options');

  const schema = params.get('schema') || undefined;
  if (schema) {
    const searchPath = `-c search_path="${schema.replace(/"/g, '""').replace(/\\/g, '\\\\').replace(/ /g, '\\ ')}"`;
    config.options = config.options ? `${config.options} ${searchPath}` : searchPath;
  }

  const { ssl, prefer } = tlsOptions(params, host, baseDir);
  const known = new Set([
    'host', 'port', 'schema', 'connection_limit', 'pool_timeout', 'connect_timeout',
    'socket_timeout', 'max_idle_connection_lifetime', 'max_connection_lifetime',
    'application_name', 'options', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey',
    'sslidentity', 'sslpassword', 'sslaccept',
  ]);
  const warnings = [];
  for (const name of new Set(params.keys())) {
    if (!known.has(name) && !IGNORED.has(name)) warnings.push(`unknown database URL parameter ${name} ignored`);
  }
  const unixSocket = host.startsWith('/');
  if (prefer) {
    // Unix sockets never use TLS; elsewhere the caller probes whether the server offers it.
    config.ssl = false;
    return { pool: config, connectTimeoutMs, schema, preferTls: unixSocket ? null : ssl, warnings };
  }
  config.ssl = unixSocket ? false : ssl;
  return { pool: config, connectTimeoutMs, schema, preferTls: null, warnings };
}

/** The datasource URL: OVERWRITE_DATASOURCES first, else the schema's `url` (literal or env). */
function datasourceUrl(datamodel, env) {
  if (env.OVERWRITE_DATASOURCES) {
    let overrides;
    try {
      overrides = JSON.parse(env.OVERWRITE_DATASOURCES);
    } catch {
      throw new UrlError('OVERWRITE_DATASOURCES is not valid JSON');
    }
    const first = Array.isArray(overrides) ? overrides[0] : undefined;
    if (first && typeof first.url === 'string') return first.url;
  }
  const block = /datasource\s+\w+\s*\{([^}]*)\}/.exec(datamodel);
  if (!block) throw new UrlError('the schema has no datasource block');
  const fromEnv = /^\s*url\s*=\s*env\(\s*"([^"]+)"\s*\)/m.exec(block[1]);
  if (fromEnv) {
    const value = env[fromEnv[1]];
    if (!value) throw new UrlError(`the datasource URL variable ${fromEnv[1]} is not set`);
    return value;
  }
  const literal = /^\s*url\s*=\s*"((?:[^"\\]|\\.)*)"/m.exec(block[1]);
  if (literal) return JSON.parse(`"${literal[1]}"`);
  throw new UrlError('the schema datasource has no url');
}

module.exports = { poolConfig, datasourceUrl, UrlError };
