'use strict';
// Parses the GraphQL subset prisma-client-py's query builder emits: one operation, one aliased
// root field, arguments written as JSON-like literals (commas are whitespace, as in GraphQL),
// and nested selection sets. No variables, fragments, directives or enum literals.

class GraphQLSyntaxError extends Error {
  constructor(message, position) {
    super(`GraphQL syntax error at offset ${position}: ${message}`);
    this.name = 'GraphQLSyntaxError';
    this.position = position;
  }
}

const PUNCTUATION = new Set(['{', '}', '(', ')', '[', ']', ':']);
const NAME_START = /[_A-Za-z]/;
const NAME_REST = /[_0-9A-Za-z]/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const SAFE_INTEGER_DIGITS = 15;

function tokenize(source) {
  const tokens = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r' || c === ',' || c === '\ufeff') {
      i += 1;
    } else if (c === '#') {
      while (i < source.length && source[i] !== '\n') i += 1;
    } else if (PUNCTUATION.has(c)) {
      tokens.push({ kind: c, position: i });
      i += 1;
    } else if (c === '"') {
      const start = i;
      i += 1;
      while (i < source.length && source[i] !== '"') {
        i += source[i] === '\\' ? 2 : 1;
      }
      if (i >= source.length) throw new GraphQLSyntaxError('unterminated string', start);
      i += 1;
      let value;
      try {
        value = JSON.parse(source.slice(start, i));
      } catch (error) {
        throw new GraphQLSyntaxError(`invalid string literal (${error.message})`, start);
      }
      tokens.push({ kind: 'string', value, position: start });
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(source);
      if (!match) throw new GraphQLSyntaxError('invalid number', i);
      tokens.push({ kind: 'number', value: numberValue(match), position: i });
      i = NUMBER.lastIndex;
    } else if (NAME_START.test(c)) {
      const start = i;
      NAME_REST.lastIndex = i;
      while (NAME_REST.test(source)) i = NAME_REST.lastIndex;
      tokens.push({ kind: 'name', value: source.slice(start, i), position: start });
    } else {
      throw new GraphQLSyntaxError(`unexpected character ${JSON.stringify(c)}`, i);
    }
  }
  tokens.push({ kind: 'end', position: source.length });
  return tokens;
}

// Integers beyond 2^53 stay decimal strings: the engine coerces a string to BigInt exactly,
// where a JS number would silently round.
function numberValue(match) {
  const text = match[0];
  if (match[1] === undefined && match[2] === undefined) {
    const digits = text.replace('-', '').length;
    if (digits > SAFE_INTEGER_DIGITS && !Number.isSafeInteger(Number(text))) return text;
  }
  return Number(text);
}

class Parser {
  constructor(source) {
    this.tokens = tokenize(source);
    this.index = 0;
  }

  peek() {
    return this.tokens[this.index];
  }

  next() {
    const token = this.tokens[this.index];
    this.index += 1;
    return token;
  }

  expect(kind) {
    const token = this.next();
    if (token.kind !== kind) {
      throw new GraphQLSyntaxError(`expected ${kind}, found ${describe(token)}`, token.position);
    }
    return token;
  }

  document() {
    const operation = this.expect('name');
    if (operation.value !== 'query' && operation.value !== 'mutation') {
      throw new GraphQLSyntaxError(
        `expected "query" or "mutation", found ${describe(operation)}`,
        operation.position,
      );
    }
    if (this.peek().kind === 'name') this.next(); // an operation name carries no meaning here
    const selection = this.selectionSet();
    this.expect('end');
    if (selection.length !== 1) {
      throw new GraphQLSyntaxError(
        `expected exactly one root field, found ${selection.length}`,
        operation.position,
      );
    }
    return { operation: operation.value, field: selection[0] };
  }

  selectionSet() {
    this.expect('{');
    const fields = [];
    while (this.peek().kind !== '}') fields.push(this.field());
    this.next();
    return fields;
  }

  field() {
    let name = this.expect('name').value;
    let alias = null;
    if (this.peek().kind === ':') {
      this.next();
      alias = name;
      name = this.expect('name').value;
    }
    const field = { name, alias, args: null, selection: null };
    if (this.peek().kind === '(') field.args = this.arguments();
    if (this.peek().kind === '{') field.selection = this.selectionSet();
    return field;
  }

  arguments() {
    this.expect('(');
    const args = Object.create(null);
    while (this.peek().kind !== ')') {
      const key = this.expect('name').value;
      this.expect(':');
      args[key] = this.value();
    }
    this.next();
    return args;
  }

  value() {
    const token = this.next();
    switch (token.kind) {
      case 'string':
      case 'number':
        return token.value;
      case 'name':
        if (token.value === 'true') return true;
        if (token.value === 'false') return false;
        if (token.value === 'null') return null;
        throw new GraphQLSyntaxError(
          `unsupported literal ${token.value} (NaN and Infinity are not valid values)`,
          token.position,
        );
      case '[': {
        const list = [];
        while (this.peek().kind !== ']') list.push(this.value());
        this.next();
        return list;
      }
      case '{': {
        const object = Object.create(null);
        while (this.peek().kind !== '}') {
          const key = this.expect('name').value;
          this.expect(':');
          object[key] = this.value();
        }
        this.next();
        return object;
      }
      default:
        throw new GraphQLSyntaxError(`expected a value, found ${describe(token)}`, token.position);
    }
  }
}

function describe(token) {
  if (token.kind === 'end') return 'end of document';
  if (token.kind === 'name') return `name ${token.value}`;
  if (token.kind === 'string' || token.kind === 'number') return token.kind;
  return JSON.stringify(token.kind);
}

/** Parse a document into `{operation, field: {name, alias, args, selection}}`. */
function parse(source) {
  if (typeof source !== 'string') throw new GraphQLSyntaxError('query is not a string', 0);
  return new Parser(source).document();
}

module.exports = { parse, GraphQLSyntaxError };
