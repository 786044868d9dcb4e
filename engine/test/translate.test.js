'use strict';
// GraphQL requests → JSON-protocol requests (Json values tagged from the schema) and engine
// answers → what prisma-client-py reads.

const test = require('node:test');
const assert = require('node:assert/strict');
const { QuerySchema, loadDmmf } = require('../lib/schema');
const {
  translateRequest,
  translateResponse,
  translateTransactionResponse,
  unwrap,
} = require('../lib/translate');

const DATAMODEL = `
datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}
model User {
  id      String   @id
  name    String
  meta    Json     @default("{}")
  tags    Json[]
  big     BigInt?
  created DateTime @default(now())
  posts   Post[]
}
model Post {
  id       Int     @id @default(autoincrement())
  title    String
  data     Json?
  authorId String
  author   User    @relation(fields: [authorId], references: [id])
}
`;

const schema = new QuerySchema(loadDmmf(DATAMODEL));
const plain = (value) => JSON.parse(JSON.stringify(value));
const request = (query) => JSON.parse(translateRequest(schema, { query, variables: {} }).body);

test('maps root fields to model operations', () => {
  assert.deepEqual(schema.operation('findUniqueUserOrThrow'), { modelName: 'User', action: 'findUniqueOrThrow' });
  assert.deepEqual(schema.operation('createManyPost'), { modelName: 'Post', action: 'createMany' });
  assert.deepEqual(schema.operation('queryRaw'), { modelName: undefined, action: 'queryRaw' });
  assert.equal(schema.operation('nothing'), undefined);
});

test('Json strings are tagged wherever the schema expects Json, including nested writes', () => {
  const body = request(`mutation { result: createOneUser ( data: {
    id: "u1" name: "n" meta: "{\\"a\\": 1}" tags: [, "[1]", "{}", ] big: 9007199254740993
    created: "2024-01-01T00:00:00+00:00"
    posts: { create: [, { title: "t" data: "null" }, ] }
  } ) { id meta posts { id data } } }`);
  assert.equal(body.modelName, 'User');
  assert.equal(body.action, 'createOne');
  const data = body.query.arguments.data;
  assert.deepEqual(data.meta, { $type: 'Json', value: '{"a": 1}' });
  assert.deepEqual(data.tags, [{ $type: 'Json', value: '[1]' }, { $type: 'Json', value: '{}' }]);
  assert.equal(data.name, 'n');
  assert.equal(data.big, '9007199254740993');
  assert.equal(data.created, '2024-01-01T00:00:00+00:00');
  assert.deepEqual(data.posts.create[0], { title: 't', data: { $type: 'Json', value: 'null' } });
  assert.deepEqual(body.query.selection, { id: true, meta: true, posts: { selection: { id: true, data: true } } });
});

test('Json filters are tagged, their string-typed options are not', () => {
  const body = request(`query { result: findManyUser ( where: {
    meta: { equals: "{\\"a\\": 1}" path: [, "a", ] string_contains: "x" }
    name: { contains: "{}" mode: "insensitive" }
  } orderBy: { created: "desc" } take: 1 ) { id } }`);
  const where = body.query.arguments.where;
  assert.deepEqual(where.meta, { equals: { $type: 'Json', value: '{"a": 1}' }, path: ['a'], string_contains: 'x' });
  assert.deepEqual(where.name, { contains: '{}', mode: 'insensitive' });
  assert.deepEqual(body.query.arguments.orderBy, { created: 'desc' });
});

test('relation arguments in selections are tagged against the relation', () => {
  const body = request('query { result: findUniqueUser ( where: { id: "u" } ) { id posts( where: { data: { equals: "[]" } } take: 1 ) { id } } }');
  assert.deepEqual(body.query.selection.posts, {
    arguments: { where: { data: { equals: { $type: 'Json', value: '[]' } } }, take: 1 },
    selection: { id: true },
  });
});

test('raw queries pass query and parameters through untouched, with an empty selection', () => {
  const body = request('mutation { result: queryRaw ( query: "SELECT $1" parameters: "[\\"{}\\"]" ) }');
  assert.deepEqual(body, { action: 'queryRaw', query: { arguments: { query: 'SELECT $1', parameters: '["{}"]' }, selection: {} } });
});

test('aggregates and groupBy selections', () => {
  const count = request('query { result: aggregateUser ( where: { name: { startsWith: "B" } } ) { _count { _all } } }');
  assert.deepEqual(count.query.selection, { _count: { selection: { _all: true } } });
  const group = request('query { result: groupByUser ( by: [, "name", ] ) { name _sum { big } _count { _all } } }');
  assert.deepEqual(group.query.arguments, { by: ['name'] });
  assert.deepEqual(group.query.selection, { name: true, _sum: { selection: { big: true } }, _count: { selection: { _all: true } } });
});

test('batches: each query translated; transaction true becomes an options object', () => {
  const translated = translateRequest(schema, {
    batch: [
      { query: 'mutation { result: deleteManyUser ( where: { id: "a" } ) { count } }', variables: {} },
      { query: 'mutation { result: executeRaw ( query: "SELECT 1" parameters: "[]" ) }', variables: {} },
    ],
    transaction: true,
  });
  const body = JSON.parse(translated.body);
  assert.deepEqual(body.transaction, {});
  assert.equal(body.batch.length, 2);
  assert.deepEqual(translated.raw, [false, true]);
});

test('untranslatable requests answer a P2009 validation error', () => {
  const out = translateRequest(schema, { query: 'query { result: findManyNope { id } }' });
  assert.equal(out.errors[0].user_facing_error.error_code, 'P2009');
  assert.match(out.errors[0].error, /unknown operation findManyNope/);
  const syntax = translateRequest(schema, { query: 'query { result: findManyUser ( ' });
  assert.equal(syntax.errors[0].user_facing_error.error_code, 'P2009');
});

test('responses: the root key becomes result and $type values are unwrapped', () => {
  const translated = translateRequest(schema, { query: 'query { result: findManyUser { id meta big created } }' });
  const response = {
    data: {
      findManyUser: [{
        id: 'u',
        meta: { $type: 'Json', value: '{"$type":"x","value":1}' },
        big: { $type: 'BigInt', value: '9007199254740993' },
        created: { $type: 'DateTime', value: '2024-01-02T03:04:05.123Z' },
      }],
    },
  };
  assert.deepEqual(translateResponse(response, translated), {
    data: { result: [{ id: 'u', meta: '{"$type":"x","value":1}', big: '9007199254740993', created: '2024-01-02T03:04:05.123Z' }] },
  });
});

test('raw results are not unwrapped: JSON columns may hold $type keys themselves', () => {
  const translated = translateRequest(schema, { query: 'mutation { result: queryRaw ( query: "x" parameters: "[]" ) }' });
  const rows = { columns: ['j'], types: ['json'], rows: [[{ $type: 'Json', value: 'kept' }]] };
  assert.deepEqual(translateResponse({ data: { queryRaw: rows } }, translated), { data: { result: rows } });
});

test('batch item errors are hoisted to the top level, where prisma-client-py looks', () => {
  const translated = translateRequest(schema, {
    batch: [{ query: 'query { result: findManyUser { id } }' }, { query: 'query { result: findManyUser { id } }' }],
  });
  const error = { error: 'x', user_facing_error: { error_code: 'P2002', message: 'Unique constraint failed' } };
  const out = translateResponse({ batchResult: [{ data: { findManyUser: [] } }, { errors: [error] }] }, translated);
  assert.deepEqual(out.errors, [error]);
  assert.deepEqual(out.batchResult[0], { data: { result: [] } });
});

test('driver adapter errors (P2036) are explained from the adapter error registry', () => {
  const translated = translateRequest(schema, { query: 'query { result: findManyUser { id } }' });
  const error = { error: 'adapter', user_facing_error: { error_code: 'P2036', message: 'External error id#1', meta: { id: 1 } } };
  const out = translateResponse({ errors: [error] }, translated, (id) => (id === 1 ? 'connect ECONNREFUSED' : undefined));
  assert.match(out.errors[0].user_facing_error.message, /ECONNREFUSED/);
  assert.match(out.errors[0].error, /ECONNREFUSED/);
});

test('transaction errors are wrapped with the detail prisma-client-py matches on', () => {
  const bare = {
    is_panic: false,
    message: 'Transaction API error: Transaction already closed: A rollback cannot be executed on a transaction that was rolled back.',
    meta: { error: 'Transaction already closed: A rollback cannot be executed on a transaction that was rolled back.' },
    error_code: 'P2028',
  };
  const out = translateTransactionResponse(bare);
  assert.ok(out.errors[0].error.startsWith('Transaction already closed'));
  assert.equal(out.errors[0].user_facing_error, bare);
  assert.deepEqual(translateTransactionResponse({ id: 'tx1' }), { id: 'tx1' });
  assert.deepEqual(translateTransactionResponse({}), {});
});

test('unwrap leaves ordinary objects alone', () => {
  assert.deepEqual(unwrap({ a: { $type: 'x' }, b: [{ $type: 'Decimal', value: '1.5' }], c: null }), { a: { $type: 'x' }, b: ['1.5'], c: null });
  assert.deepEqual(plain(unwrap([1, 'a', true])), [1, 'a', true]);
});
