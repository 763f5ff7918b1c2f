/**
 * JSON schemas for kubeconform, made from the real API server instead of downloaded: this
 * machine (and CI) cannot reach the usual schema repository, and a schema taken from the
 * API server the tests run against is the most faithful one anyway.
 *
 * Like openapi2jsonschema: one standalone file per kind (every `$ref` inlined), named as
 * kubeconform's `{{ .ResourceKind }}{{ .KindSuffix }}.json` template expects; strict
 * variants forbid properties the API does not define (that is what `-strict` catches).
 * Recursive types (JSONSchemaProps) are cut at the first repetition with a permissive schema.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

type Schema = Record<string, unknown>;

/** File name kubeconform looks for, e.g. `deployment-apps-v1.json`, `service-v1.json`. */
export function schemaFileName(kind: string, group: string, version: string): string {
  const suffix = group === '' ? `-${version}` : `-${group.split('.')[0]}-${version}`;
  return `${kind.toLowerCase()}${suffix}.json`;
}

function inline(schema: unknown, definitions: Record<string, Schema>, seen: readonly string[]): unknown {
  if (Array.isArray(schema)) return schema.map((s) => inline(s, definitions, seen));
  if (!schema || typeof schema !== 'object') return schema;
  const s = schema as Schema;
  const ref = s.$ref;
  if (typeof ref === 'string') {
    const name = ref.replace('#/definitions/', '');
    if (seen.includes(name)) return {};
    if (name === 'io.k8s.apimachinery.pkg.util.intstr.IntOrString')
      return { oneOf: [{ type: 'string' }, { type: 'integer' }] };
    if (name === 'io.k8s.apimachinery.pkg.api.resource.Quantity')
      return { oneOf: [{ type: 'string' }, { type: 'number' }] };
    return inline(definitions[name] ?? {}, definitions, [...seen, name]);
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(s)) {
    if (key === 'properties' && value && typeof value === 'object') {
      out.properties = Object.fromEntries(
        Object.entries(value as Schema).map(([k, v]) => [k, inline(v, definitions, seen)]),
      );
    } else if (
      key === 'items' ||
      key === 'additionalProperties' ||
      key === 'allOf' ||
      key === 'oneOf' ||
      key === 'anyOf'
    ) {
      out[key] = typeof value === 'boolean' ? value : inline(value, definitions, seen);
    } else if (!key.startsWith('x-kubernetes-')) {
      out[key] = value;
    }
  }
  if (out.format === 'int-or-string') return { oneOf: [{ type: 'string' }, { type: 'integer' }] };
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/**
 * Writes one strict schema per kind of an OpenAPI v2 document into `dir`, plus the given
 * CRD versions' schemas. Returns the number of files written.
 */
export function writeSchemas(
  openapi: { definitions: Record<string, Schema> },
  crds: readonly { group: string; kind: string; version: string; schema: Schema }[],
  dir: string,
): number {
  mkdirSync(dir, { recursive: true });
  let count = 0;
  for (const [name, definition] of Object.entries(openapi.definitions)) {
    const gvks = definition['x-kubernetes-group-version-kind'] as
      | { group: string; kind: string; version: string }[]
      | undefined;
    if (!gvks) continue;
    const schema = inline(definition, openapi.definitions, [name]) as Schema;
    for (const gvk of gvks) {
      writeFileSync(join(dir, schemaFileName(gvk.kind, gvk.group, gvk.version)), JSON.stringify(schema));
      count++;
    }
  }
  for (const crd of crds) {
    const schema = inline(crd.schema, {}, []) as Schema;
    const properties = (schema.properties ?? {}) as Schema;
    properties.apiVersion = { type: 'string' };
    properties.kind = { type: 'string' };
    properties.metadata = { type: 'object' };
    writeFileSync(join(dir, schemaFileName(crd.kind, crd.group, crd.version)), JSON.stringify(schema));
    count++;
  }
  return count;
}
