'use strict';
// The GraphQL subset prisma-client-py renders, parsed into plain values.

const test = require('node:test');
const assert = require('node:assert/strict');
const { parse, GraphQLSyntaxError } = require('../lib/graphql');

test('parses a multi-line query with arguments, nested selections and relation arguments', () => {
  const doc = parse(`query {
  result: findUniqueUser
  (
    where: {
      id: "u1"
    }
  )
  {
    id
    posts(
      where: {
        title: {
          contains: "x"
        }
      }
      take: 2
    )
    {
      id
    }
  }
}`);
  assert.equal(doc.operation, 'query');
  assert.equal(doc.field.alias, 'result');
  assert.equal(doc.field.name, 'findUniqueUser');
  assert.deepEqual({ ...doc.field.args.where }, { id: 'u1' });
  const [id, posts] = doc.field.selection;
  assert.deepEqual(id, { name: 'id', alias: null, args: null, selection: null });
  assert.equal(posts.name, 'posts');
  assert.equal(posts.args.take, 2);
  assert.equal(posts.args.where.title.contains, 'x');
  assert.equal(posts.selection[0].name, 'id');
});

test('lists open and close with commas, as prisma-client-py renders them', () => {
  const doc = parse('mutation { result: createManyUser ( data: [, { id: "a" }, { id: "b" }, ] skipDuplicates: true ) { count } }');
  assert.deepEqual(JSON.parse(JSON.stringify(doc.field.args.data)), [{ id: 'a' }, { id: 'b' }]);
  assert.equal(doc.field.args.skipDuplicates, true);
  assert.equal(doc.field.selection[0].name, 'count');
});

test('strings are JSON strings: escapes, unicode, and Json values as JSON text', () => {
  const doc = parse('mutation { result: queryRaw ( query: "SELECT * FROM \\"User\\" WHERE id = $1 -- ü ✓" parameters: "[\\"u1\\", \\"1.5\\"]" ) }');
  assert.equal(doc.field.args.query, 'SELECT * FROM "User" WHERE id = $1 -- ü ✓');
  assert.equal(doc.field.args.parameters, '["u1", "1.5"]');
  assert.equal(doc.field.selection, null);
});

test('numbers: integers, floats, exponents, negatives; big integers stay exact strings', () => {
  const doc = parse('query { result: findManyUser ( a: 1 b: -2.5 c: 1e-05 d: 9007199254740993 e: -9223372036854775808 f: 9007199254740991 g: null h: false ) { id } }');
  const { a, b, c, d, e, f, g, h } = doc.field.args;
  assert.deepEqual([a, b, c, d, e, f, g, h], [1, -2.5, 1e-5, '9007199254740993', '-9223372036854775808', 9007199254740991, null, false]);
});

test('nested empty selections like _count { _all }', () => {
  const doc = parse('query { result: aggregateUser ( where: { name: { startsWith: "B" } } ) { _count { _all } } }');
  assert.equal(doc.field.selection[0].name, '_count');
  assert.equal(doc.field.selection[0].selection[0].name, '_all');
});

test('rejects what prisma-client-py never sends', () => {
  for (const bad of [
    'query { result: findManyUser ( a: NaN ) { id } }',
    'query { result: findManyUser ( a: Infinity ) { id } }',
    'query { result: findManyUser ( a: "unterminated ) { id } }',
    'query { a b }',
    'subscription { result: x }',
    'query { result: findManyUser ( where: { ) }',
    'query { result: findManyUser } trailing',
    'query { result: x ( a: $var ) }',
  ]) {
    assert.throws(() => parse(bad), GraphQLSyntaxError, bad);
  }
});

test('a __proto__ key is an ordinary key', () => {
  const doc = parse('query { result: findManyUser ( where: { __proto__: "x" } ) { id } }');
  assert.equal(Object.getPrototypeOf(doc.field.args.where), null);
  assert.equal(doc.field.args.where.__proto__, 'x');
});
