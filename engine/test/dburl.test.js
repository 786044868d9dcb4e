'use strict';
// Prisma URL parameters → pg pool options, libpq's sslmode meanings, and where the URL comes from.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { poolConfig, datasourceUrl, UrlError } = require('../lib/dburl');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dburl-'));
fs.writeFileSync(path.join(dir, 'root.crt'), 'CA');
const BASE = 'postgresql://lite%40llm:p%40ss%2Fw%3Ard@db.example:6543/my%20db';

test('credentials and database are percent-decoded; defaults follow the native engine', () => {
  const { pool, schema, warnings } = poolConfig(`${BASE}?sslmode=require`, dir);
  assert.equal(pool.host, 'db.example');
  assert.equal(pool.port, 6543);
  assert.equal(pool.user, 'lite@llm');
  assert.equal(pool.password, 'p@ss/w:rd');
  assert.equal(pool.database, 'my db');
  assert.equal(pool.max, os.cpus().length * 2 + 1);
  assert.equal(pool.connectionTimeoutMillis, 10000);
  assert.equal(schema, undefined);
  assert.deepEqual(warnings, []);
});

test('connection_limit, pool_timeout, connect_timeout, socket_timeout, application_name', () => {
  const out = poolConfig(`${BASE}?connection_limit=3&pool_timeout=0&connect_timeout=2&socket_timeout=30&application_name=gw`, dir);
  assert.equal(out.pool.max, 3);
  assert.equal(out.pool.connectionTimeoutMillis, 0);
  assert.equal(out.connectTimeoutMs, 2000);
  assert.equal(out.pool.query_timeout, 30000);
  assert.equal(out.pool.application_name, 'gw');
  assert.throws(() => poolConfig(`${BASE}?pool_timeout=soon`, dir), UrlError);
});

test('schema goes to the adapter and to search_path', () => {
  const out = poolConfig(`${BASE}?schema=tenant%20one`, dir);
  assert.equal(out.schema, 'tenant one');
  assert.equal(out.pool.options, '-c search_path="tenant\\ one"');
});

test('sslmode=require encrypts without verifying, as libpq does', () => {
  const { pool, preferTls } = poolConfig(`${BASE}?sslmode=require`, dir);
  assert.deepEqual(pool.ssl, { rejectUnauthorized: false });
  assert.equal(preferTls, null);
});

test('sslmode=require with a root certificate verifies the chain (libpq: verify-ca)', () => {
  const { pool } = poolConfig(`${BASE}?sslmode=require&sslrootcert=root.crt`, dir);
  assert.equal(pool.ssl.rejectUnauthorized, true);
  assert.equal(pool.ssl.ca.toString(), 'CA');
  assert.equal(pool.ssl.checkServerIdentity('x', {}), undefined);
});

test('verify-full checks the host name; sslaccept overrides', () => {
  const full = poolConfig(`${BASE}?sslmode=verify-full&sslrootcert=${path.join(dir, 'root.crt')}`, dir).pool.ssl;
  assert.equal(full.rejectUnauthorized, true);
  assert.equal(full.checkServerIdentity, undefined);
  assert.equal(full.servername, 'db.example');
  const accept = poolConfig(`${BASE}?sslmode=verify-full&sslaccept=accept_invalid_certs`, dir).pool.ssl;
  assert.equal(accept.rejectUnauthorized, false);
  assert.throws(() => poolConfig(`${BASE}?sslmode=verify-full&sslrootcert=missing.crt`, dir), /sslrootcert file cannot be read/);
});

test('disable, prefer (the default), and Unix sockets', () => {
  assert.equal(poolConfig(`${BASE}?sslmode=disable`, dir).pool.ssl, false);
  const prefer = poolConfig(BASE, dir);
  assert.equal(prefer.pool.ssl, false);
  assert.deepEqual(prefer.preferTls, { rejectUnauthorized: false });
  const socket = poolConfig('postgresql://u:p@localhost/db?host=/var/run/postgresql', dir);
  assert.equal(socket.pool.host, '/var/run/postgresql');
  assert.equal(socket.preferTls, null);
  assert.equal(socket.pool.ssl, false);
  assert.throws(() => poolConfig(`${BASE}?sslmode=sometimes`, dir), UrlError);
});

test('IPv6 hosts and unknown parameters', () => {
  const out = poolConfig('postgresql://u:p@[::1]:5433/db?pgbouncer=true&frobnicate=1', dir);
  assert.equal(out.pool.host, '::1');
  assert.equal(out.pool.port, 5433);
  assert.deepEqual(out.warnings, ['unknown database URL parameter frobnicate ignored']);
});

test('errors never echo the URL or its password', () => {
  for (const url of ['mysql://u:secret@h/db', 'not a url secret', 'postgresql://u:%zzsecret@h/db']) {
    assert.throws(() => poolConfig(url, dir), (error) => error instanceof UrlError && !error.message.includes('secret'));
  }
});

test('the URL: OVERWRITE_DATASOURCES, else the schema\'s env() variable, else a literal', () => {
  const schema = 'datasource client {\n  provider = "postgresql"\n  url      = env("DATABASE_URL")\n}\n';
  assert.equal(datasourceUrl(schema, { DATABASE_URL: 'postgresql://a' }), 'postgresql://a');
  assert.equal(
    datasourceUrl(schema, { DATABASE_URL: 'postgresql://a', OVERWRITE_DATASOURCES: '[{"name":"client","url":"postgresql://b"}]' }),
    'postgresql://b',
  );
  assert.throws(() => datasourceUrl(schema, {}), /DATABASE_URL is not set/);
  assert.equal(datasourceUrl('datasource db {\n  provider = "postgresql"\n  url = "postgresql://lit"\n}', {}), 'postgresql://lit');
  assert.throws(() => datasourceUrl('model A { id Int @id }', {}), /no datasource/);
});
