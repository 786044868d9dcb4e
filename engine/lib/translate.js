'use strict';
// Translates prisma-client-py's GraphQL requests into the JSON protocol the WebAssembly engine
// speaks, and the engine's JSON-protocol answers back into what the native engine returned
// under GraphQL: the root field aliased `result`, scalars untagged.

const { parse } = require('./graphql');

class TranslationError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TranslationError';
  }
}

// The native engine reported query validation failures as P2009.
function validationError(message) {
  const full = `Failed to validate the query: ${message}`;
  return {
    error: full,
    user_facing_error: { is_panic: false, message: full, meta: {}, error_code: 'P2009' },
  };
}

function convertSelection(schema, items, outputType) {
  const selection = Object.create(null);
  if (!items) return { $scalars: true, $composites: true };
  for (const item of items) {
    if (item.alias !== null) throw new TranslationError(`aliases are not supported (${item.alias})`);
    if (item.args === null && item.selection === null) {
      selection[item.name] = true;
      continue;
    }
    const field = schema.outputField(outputType, item.name);
    const nested = {};
    if (item.args !== null) {
      const definitions = new Map((field ? field.args : []).map((a) => [a.name, a]));
      nested.arguments = schema.tagArgs(item.args, definitions);
    }
    nested.selection = convertSelection(schema, item.selection, field && field.outputType);
    selection[item.name] = nested;
  }
  return selection;
}

/**
 * One GraphQL document → `{request, raw}`: the JSON-protocol single request, and whether it
 * is a raw query (whose results must not be unwrapped).
 */
function translateDocument(schema, source) {
  const { field } = parse(source);
  const operation = schema.operation(field.name);
  if (!operation) throw new TranslationError(`unknown operation ${field.name}`);
  const raw = schema.isRaw(operation.action);
  const args = field.args || Object.create(null);
  const query = raw
    ? { arguments: args, selection: {} }
    : {
        arguments: schema.tagArgs(args, schema.rootArgs(field.name)),
        selection: convertSelection(schema, field.selection, schema.rootOutput(field.name)),
      };
  const request = { action: operation.action, query };
  if (operation.modelName !== undefined) request.modelName = operation.modelName;
  return { request, raw };
}

/** Replace every `{"$type": T, "value": v}` by `v`, as the GraphQL protocol returned them. */
function unwrap(value) {
  if (Array.isArray(value)) return value.map(unwrap);
  if (value !== null && typeof value === 'object') {
    if (typeof value.$type === 'string' && 'value' in value && Object.keys(value).length === 2) {
      return value.value;
    }
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = unwrap(item);
    return out;
  }
  return value;
}

function resultOf(data, raw) {
  const keys = Object.keys(data || {});
  const value = keys.length > 0 ? data[keys[0]] : null;
  return { result: raw ? value : unwrap(value) };
}

/**
 * The HTTP body prisma-client-py sent to `POST /` → `{body, raw}`: the engine's request (a
 * string) and per query whether it is raw; or `{errors}` when it cannot be translated.
 */
function translateRequest(schema, payload) {
  try {
    if (payload && Array.isArray(payload.batch)) {
      const items = payload.batch.map((item) => translateDocument(schema, item && item.query));
      const body = { batch: items.map((item) => item.request) };
      if (payload.transaction) body.transaction = {};
      return { body: JSON.stringify(body), raw: items.map((item) => item.raw), batch: true };
    }
    const item = translateDocument(schema, payload && payload.query);
    return { body: JSON.stringify(item.request), raw: [item.raw], batch: false };
  } catch (error) {
    if (error.name === 'GraphQLSyntaxError' || error.name === 'TranslationError') {
      return { errors: [validationError(error.message)] };
    }
    throw error;
  }
}

/**
 * The engine's answer (parsed) → what prisma-client-py expects. `describeAdapterError(id)`
 * resolves the driver-adapter errors (P2036) the engine only refers to by id.
 */
function translateResponse(response, translated, describeAdapterError) {
  if (response.errors) return { errors: response.errors.map((e) => explain(e, describeAdapterError)) };
  if (!translated.batch) return { data: resultOf(response.data, translated.raw[0]) };
  const errors = [];
  const batchResult = (response.batchResult || []).map((item, index) => {
    if (item.errors) {
      errors.push(...item.errors.map((e) => explain(e, describeAdapterError)));
      return { errors: item.errors };
    }
    return { data: resultOf(item.data, translated.raw[index]) };
  });
  return errors.length > 0 ? { batchResult, errors } : { batchResult };
}

function explain(error, describeAdapterError) {
  const userFacing = error && error.user_facing_error;
  if (!userFacing || userFacing.error_code !== 'P2036' || !describeAdapterError) return error;
  const id = userFacing.meta && userFacing.meta.id;
  const detail = describeAdapterError(id);
  if (!detail) return error;
  const message = `Error in the PostgreSQL driver: ${detail}`;
  return { ...error, error: message, user_facing_error: { ...userFacing, message } };
}

/**
 * A transaction endpoint's answer: the engine resolves either the result or a bare
 * user-facing error object; the native engine wrapped the latter in `errors`.
 */
function translateTransactionResponse(response) {
  if (response && typeof response === 'object' && response.error_code !== undefined) {
    const detail = (response.meta && response.meta.error) || response.message;
    return { errors: [{ error: detail, user_facing_error: response }] };
  }
  return response;
}

module.exports = {
  translateDocument,
  translateRequest,
  translateResponse,
  translateTransactionResponse,
  unwrap,
  TranslationError,
};
