'use strict';
// Column types the pg adapter rejects are read as text (or a list of text) for raw queries.

const test = require('node:test');
const assert = require('node:assert/strict');
const { patchClient, supported } = require('../lib/catalog');

function fakeClient(fields, rawValues) {
  const client = {
    seen: null,
    query(config, values, callback) {
      this.seen = config;
      const result = {
        fields: fields.map((dataTypeID) => ({ dataTypeID })),
        rows: [rawValues.map((raw, i) => config.types.getTypeParser(fields[i], 'text')(raw))],
      };
      if (callback) return callback(null, result);
      return Promise.resolve(result);
    },
  };
  patchClient(client);
  return client;
}

const adapterParsers = { getTypeParser: (oid) => (oid === 23 ? Number : (v) => `adapter:${v}`) };

test('supported types keep the adapter parser; others become text or text[]', async () => {
  // int4, name, "char", regclass, name[], interval, timestamptz[], void, int2vector
  const oids = [23, 19, 18, 2205, 1003, 1186, 1185, 2278, 22];
  const raw = ['5', 'abc', 'r', '"T"', '{a,"b c"}', '1 day', '{"2030-01-01 00:00:00+00"}', '', '1 2'];
  const client = fakeClient(oids, raw);
  const result = await client.query({ text: 'SELECT', rowMode: 'array', types: adapterParsers }, []);
  assert.deepEqual(result.fields.map((f) => f.dataTypeID), [23, 25, 25, 25, 1009, 25, 1009, 25, 25]);
  assert.deepEqual(result.rows[0], [5, 'abc', 'r', '"T"', ['a', 'b c'], '1 day', ['2030-01-01 00:00:00+00'], '', '1 2']);
});

test('callback style (pg-pool\'s pool.query) is retyped too', async () => {
  const client = fakeClient([19], ['n']);
  const result = await new Promise((resolve, reject) =>
    client.query({ text: 'x', types: adapterParsers }, [], (error, r) => (error ? reject(error) : resolve(r))),
  );
  assert.equal(result.fields[0].dataTypeID, 25);
  assert.deepEqual(result.rows[0], ['n']);
});

test('queries without custom type parsers are untouched', async () => {
  const calls = [];
  const client = { query: (...args) => { calls.push(args); return 'passthrough'; } };
  patchClient(client);
  assert.equal(client.query('SELECT 1'), 'passthrough');
  assert.deepEqual(calls, [['SELECT 1', undefined, undefined]]);
});

test('supported() mirrors the adapter: extension types from 10000 up are its own text', () => {
  assert.equal(supported(25), true);
  assert.equal(supported(3802), true);
  assert.equal(supported(16385), true);
  assert.equal(supported(19), false);
  assert.equal(supported(1185), false);
});
