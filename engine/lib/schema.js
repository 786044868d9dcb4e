'use strict';
// Knows the query schema (Prisma's DMMF for the datamodel): which root field is which model
// operation, and where a Json value is expected, so that prisma-client-py's Json values (strings
// of JSON text) can be tagged as Json for the JSON protocol instead of being stored as strings.

const RAW_OPERATIONS = new Set(['queryRaw', 'executeRaw']);

function byName(list) {
  const map = new Map();
  for (const item of list || []) map.set(item.name, item);
  return map;
}

class QuerySchema {
  /** `dmmf` is the parsed output of prisma-schema-wasm's get_dmmf. */
  constructor(dmmf) {
    this.operations = new Map();
    for (const mapping of dmmf.mappings.modelOperations) {
      for (const [action, fieldName] of Object.entries(mapping)) {
        if (action === 'model' || action === 'plural' || typeof fieldName !== 'string') continue;
        this.operations.set(fieldName, { modelName: mapping.model, action });
      }
    }
    const other = dmmf.mappings.otherOperations || {};
    for (const name of [...(other.read || []), ...(other.write || [])]) {
      this.operations.set(name, { modelName: undefined, action: name });
    }

    const outputs = dmmf.schema.outputObjectTypes;
    this.outputTypes = new Map();
    for (const namespace of Object.keys(outputs)) {
      for (const type of outputs[namespace]) {
        this.outputTypes.set(`${namespace}.${type.name}`, { type, fields: byName(type.fields) });
      }
    }
    this.rootFields = new Map();
    for (const root of ['Query', 'Mutation']) {
      const entry = this.outputTypes.get(`prisma.${root}`);
      if (entry) for (const [name, field] of entry.fields) this.rootFields.set(name, field);
    }

    this.inputTypes = new Map();
    const inputs = dmmf.schema.inputObjectTypes;
    for (const namespace of Object.keys(inputs)) {
      for (const type of inputs[namespace]) {
        this.inputTypes.set(`${namespace}.${type.name}`, byName(type.fields));
      }
    }
    this.jsonReachable = reachingJson(this.inputTypes);
  }

  /** `{modelName, action}` for a root field such as `findUniqueUser`, or undefined. */
  operation(fieldName) {
    return this.operations.get(fieldName);
  }

  isRaw(action) {
    return RAW_OPERATIONS.has(action);
  }

  /** The argument definitions (by name) of a root field. */
  rootArgs(fieldName) {
    const field = this.rootFields.get(fieldName);
    return field ? byName(field.args) : new Map();
  }

  rootOutput(fieldName) {
    const field = this.rootFields.get(fieldName);
    return field ? field.outputType : undefined;
  }

  /** The field `name` of an output type reference, with its args and outputType. */
  outputField(outputType, name) {
    if (!outputType || outputType.location !== 'outputObjectTypes') return undefined;
    const entry = this.outputTypes.get(`${outputType.namespace}.${outputType.type}`);
    return entry ? entry.fields.get(name) : undefined;
  }

  // Whether a Json scalar can appear somewhere under one of these input types: arguments that
  // cannot hold Json are passed on untouched, which keeps the walk to the places that matter.
  mayHoldJson(inputTypes) {
    return inputTypes.some((t) =>
      t.location === 'scalar'
        ? t.type === 'Json'
        : t.location === 'inputObjectTypes' && this.jsonReachable.has(`${t.namespace}.${t.type}`),
    );
  }

  /**
   * Rewrite `value` for the JSON protocol, given the input types allowed at its position: a
   * string where a Json scalar is accepted becomes `{"$type":"Json","value":string}`.
   */
  tag(value, inputTypes) {
    if (!inputTypes || inputTypes.length === 0 || !this.mayHoldJson(inputTypes)) return value;
    if (typeof value === 'string') {
      const json = inputTypes.some((t) => t.location === 'scalar' && t.type === 'Json');
      return json ? { $type: 'Json', value } : value;
    }
    if (Array.isArray(value)) {
      const listTypes = inputTypes.filter((t) => t.isList);
      const elementTypes = (listTypes.length > 0 ? listTypes : inputTypes).map((t) => ({
        ...t,
        isList: false,
      }));
      return value.map((item) => this.tag(item, elementTypes));
    }
    if (value !== null && typeof value === 'object') {
      const objectTypes = inputTypes
        .filter((t) => t.location === 'inputObjectTypes')
        .map((t) => this.inputTypes.get(`${t.namespace}.${t.type}`))
        .filter(Boolean);
      if (objectTypes.length === 0) return value;
      const out = Object.create(null);
      for (const [key, item] of Object.entries(value)) {
        const candidates = [];
        for (const fields of objectTypes) {
          const field = fields.get(key);
          if (field) candidates.push(...field.inputTypes);
        }
        out[key] = this.tag(item, candidates);
      }
      return out;
    }
    return value;
  }

  /** Tag each argument of an argument object, given argument definitions by name. */
  tagArgs(args, definitions) {
    const out = Object.create(null);
    for (const [key, value] of Object.entries(args)) {
      const definition = definitions.get(key);
      out[key] = definition ? this.tag(value, definition.inputTypes) : value;
    }
    return out;
  }
}

// The input object types under which a Json scalar can appear, as a fixpoint over the type
// graph (input types refer to each other in cycles through relation filters).
function reachingJson(inputTypes) {
  const reaching = new Set();
  let changed = true;
  while (changed) {
    changed = false;
    for (const [key, fields] of inputTypes) {
      if (reaching.has(key)) continue;
      const holds = [...fields.values()].some((field) =>
        field.inputTypes.some((t) =>
          t.location === 'scalar'
            ? t.type === 'Json'
            : t.location === 'inputObjectTypes' && reaching.has(`${t.namespace}.${t.type}`),
        ),
      );
      if (holds) {
        reaching.add(key);
        changed = true;
      }
    }
  }
  return reaching;
}

/** Build the DMMF for a datamodel with prisma-schema-wasm (synchronous). */
function loadDmmf(datamodel) {
  const schemaWasm = require('@prisma/prisma-schema-wasm');
  return JSON.parse(schemaWasm.get_dmmf(JSON.stringify({ prismaSchema: datamodel })));
}

module.exports = { QuerySchema, loadDmmf };
