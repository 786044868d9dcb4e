'use strict';
// Lets raw queries return column types the pg driver adapter does not know (catalog types such
// as name, "char", regclass, name[], void, interval): their values are passed on as text, or
// as a list of text for array types, instead of failing the whole query. The native engine
// returned such columns as strings too.

const pg = require('pg');

// Type OIDs @prisma/adapter-pg 5.17 maps itself (its fieldToColumnType); OIDs from 10000 up
// (extension and user types) it maps to text on its own.
const ADAPTER_TYPES = new Set([
  16, 17, 20, 21, 23, 25, 26, 114, 142, 650, 700, 701, 790, 869, 1042, 1043, 1082, 1083, 1114,
  1184, 1266, 1560, 1562, 1700, 2950, 3802,
  // arrays
  143, 199, 651, 791, 1000, 1001, 1002, 1005, 1007, 1009, 1014, 1015, 1016, 1021, 1022, 1028,
  1041, 1115, 1182, 1183, 1231, 1561, 1563, 2951, 3807,
]);

// Built-in array types (pg_type.typcategory = 'A', PostgreSQL 15), whose text form is
// `{a,b,...}`; int2vector (22) and oidvector (30) print space-separated and stay text.
const ARRAY_TYPES = new Set([
  143, 199, 210, 270, 271, 272, 273, 629, 651, 719, 775, 791, 1000, 1001, 1002, 1003, 1005, 1006,
  1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 1016, 1017, 1018, 1019, 1020, 1021, 1022,
  1027, 1028, 1034, 1040, 1041, 1115, 1182, 1183, 1185, 1187, 1231, 1263, 1270, 1561, 1563, 2201,
  2207, 2208, 2209, 2210, 2211, 2949, 2951, 3221, 3643, 3644, 3645, 3735, 3770, 3807, 3905, 3907,
  3909, 3911, 3913, 3927, 4073, 4090, 4097, 4192, 5039, 6150, 6151, 6152, 6153, 6155, 6157,
]);

const TEXT = 25;
const TEXT_ARRAY = 1009;
const parseTextArray = pg.types.getTypeParser(TEXT_ARRAY, 'text');
const asText = (value) => value;

function supported(oid) {
  return ADAPTER_TYPES.has(oid) || oid >= 10000;
}

function wrapParsers(getTypeParser) {
  return (oid, format) => {
    if (supported(oid)) return getTypeParser(oid, format);
    return ARRAY_TYPES.has(oid) ? parseTextArray : asText;
  };
}

function retype(result) {
  const results = Array.isArray(result) ? result : [result];
  for (const one of results) {
    for (const field of (one && one.fields) || []) {
      if (!supported(field.dataTypeID)) {
        field.dataTypeID = ARRAY_TYPES.has(field.dataTypeID) ? TEXT_ARRAY : TEXT;
      }
    }
  }
  return result;
}

/**
 * Wrap a pg client's `query` so that the adapter's queries (config objects with their own type
 * parsers) read unknown types as text. Other queries are untouched.
 */
function patchClient(client) {
  if (client.__catalogTypesAsText) return;
  const original = client.query;
  client.query = function query(config, values, callback) {
    if (!config || typeof config !== 'object' || !config.types || typeof config.submit === 'function') {
      return original.call(this, config, values, callback);
    }
    const patched = { ...config, types: { getTypeParser: wrapParsers(config.types.getTypeParser) } };
    if (typeof values === 'function') {
      callback = values;
      values = undefined;
    }
    if (typeof callback === 'function') {
      return original.call(this, patched, values, (error, result) =>
        callback(error, error ? result : retype(result)),
      );
    }
    return original.call(this, patched, values).then(retype);
  };
  client.__catalogTypesAsText = true;
}

module.exports = { patchClient, supported };
