/**
 * Drift between each schema.prisma (as its generated client sees it) and the database its
 * migration.sql builds: tables, columns, types, nullability, defaults, enums, keys, indexes and
 * foreign keys must agree, so that neither file can change without the other.
 *
 * The generated client's runtime data model gives models, fields, column names and types; it
 * omits optionality, native types, defaults, indexes and relations' actions, which come from a
 * minimal parse of the schema file (the client is checked to be generated from that very file).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { SERVICES, type ServiceName } from '../lib/service-names';
import { createTestDatabases, type TestDatabases } from '../test/helpers/databases';

const ROOT = path.resolve(__dirname, '..');

// ---------- the Prisma side ----------

interface RuntimeField {
  name: string;
  kind: 'scalar' | 'enum' | 'object' | 'unsupported';
  type: string;
  dbName?: string;
}
interface RuntimeModel {
  fields: RuntimeField[];
  dbName: string | null;
}
interface GeneratedClient {
  _runtimeDataModel: { models: Record<string, RuntimeModel> };
  _engineConfig: { inlineSchema: string };
  $disconnect(): Promise<void>;
  [model: string]: unknown;
}

interface SchemaField {
  name: string;
  type: string;
  optional: boolean;
  list: boolean;
  attributes: string;
}
interface SchemaModel {
  name: string;
  fields: Map<string, SchemaField>;
  blockAttributes: string[];
}
interface SchemaEnum {
  name: string;
  dbName: string;
  values: string[];
}

function stripComments(schema: string): string {
  return schema.replace(/\/\/.*$/gm, '');
}

function listArgument(text: string): string[] {
  const match = /\[([^\]]*)\]/.exec(text);
  if (!match?.[1]) throw new Error(`Expected a [list] in ${text}`);
  return match[1]
    .split(',')
    .map((part) => part.trim().split('(')[0]!.trim())
    .filter(Boolean);
}

function mapArgument(text: string): string | undefined {
  return /@@?map\("([^"]+)"\)/.exec(text)?.[1];
}

function parseSchema(schema: string): { models: Map<string, SchemaModel>; enums: Map<string, SchemaEnum> } {
  const models = new Map<string, SchemaModel>();
  const enums = new Map<string, SchemaEnum>();
  for (const block of stripComments(schema).matchAll(/^(model|enum)\s+(\w+)\s*\{([^}]*)\}/gm)) {
    const [, kind, name, body] = block as unknown as [string, string, string, string];
    const lines = body
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    if (kind === 'enum') {
      const mapLine = lines.find((line) => line.startsWith('@@map'));
      enums.set(name, {
        name,
        dbName: (mapLine && mapArgument(mapLine)) ?? name,
        values: lines.filter((line) => !line.startsWith('@@')).map((line) => line.split(/\s+/)[0]!),
      });
      continue;
    }
    const model: SchemaModel = { name, fields: new Map(), blockAttributes: [] };
    for (const line of lines) {
      if (line.startsWith('@@')) {
        model.blockAttributes.push(line);
        continue;
      }
      const match = /^(\w+)\s+(\w+)(\[\])?(\?)?\s*(.*)$/.exec(line);
      if (!match) throw new Error(`Cannot read the field line "${line}" of model ${name}`);
      const [, fieldName, type, list, optional, attributes] = match as unknown as [
        string,
        string,
        string,
        string | undefined,
        string | undefined,
        string,
      ];
      model.fields.set(fieldName, {
        name: fieldName,
        type,
        list: Boolean(list),
        optional: Boolean(optional),
        attributes,
      });
    }
    models.set(name, model);
  }
  return { models, enums };
}

function defaultArgument(attributes: string): string | undefined {
  return /@default\(((?:[^()]|\([^()]*\))*)\)/.exec(attributes)?.[1]?.trim();
}

interface ExpectedColumn {
  column: string;
  dataType: string;
  udtName?: string;
  precision?: number;
  nullable: boolean;
  /** undefined: no database default; otherwise a fragment the default must contain. */
  defaultLike?: string;
}

const SCALAR_TYPES: Record<string, string> = {
  String: 'text',
  Int: 'integer',
  BigInt: 'bigint',
  Boolean: 'boolean',
  Float: 'double precision',
  Decimal: 'numeric',
  Json: 'jsonb',
  Bytes: 'bytea',
  DateTime: 'timestamp without time zone',
};

function expectedColumn(field: RuntimeField, schemaField: SchemaField, enums: Map<string, SchemaEnum>): ExpectedColumn {
  const attrs = schemaField.attributes;
  const column = field.dbName ?? field.name;
  const expected: ExpectedColumn = {
    column,
    dataType: SCALAR_TYPES[field.type] ?? '?',
    nullable: schemaField.optional,
  };
  if (field.kind === 'enum') {
    expected.dataType = 'USER-DEFINED';
    expected.udtName = enums.get(field.type)?.dbName ?? field.type;
  }
  const native = /@db\.(\w+)(?:\((\d+)\))?/.exec(attrs);
  if (native) {
    const [, nativeType, argument] = native;
    if (nativeType === 'Uuid') expected.dataType = 'uuid';
    else if (nativeType === 'Timestamptz') expected.dataType = 'timestamp with time zone';
    else if (nativeType === 'Timestamp') expected.dataType = 'timestamp without time zone';
    else throw new Error(`The drift test does not know @db.${nativeType} yet (${column}): teach it`);
    if (argument) expected.precision = Number(argument);
  } else if (field.type === 'DateTime') {
    expected.precision = 3;
  }
  const fallback = defaultArgument(attrs);
  if (fallback !== undefined && !/^(uuid|cuid|nanoid|ulid)\(/.test(fallback)) {
    if (fallback === 'autoincrement()') expected.defaultLike = 'nextval(';
    else if (fallback === 'now()') expected.defaultLike = 'CURRENT_TIMESTAMP';
    else expected.defaultLike = fallback.replace(/^"(.*)"$/, '$1');
  }
  return expected;
}

/** An index as the schema implies it and as pg_catalog reports it: the two sides are compared as these. */
interface Index {
  name: string;
  table: string;
  columns: string[];
  kind: 'primary' | 'unique' | 'index';
}
/** A foreign key, on either side; its actions are pg_constraint's one-letter codes. */
interface ForeignKey {
  name: string;
  table: string;
  columns: string[];
  references: string;
  referencedColumns: string[];
  onDelete: string;
  onUpdate: string;
}

const REFERENTIAL_ACTIONS: Record<string, string> = {
  Cascade: 'c',
  Restrict: 'r',
  NoAction: 'a',
  SetNull: 'n',
  SetDefault: 'd',
};

// ---------- the database side ----------

interface DbColumn {
  table_name: string;
  column_name: string;
  data_type: string;
  udt_name: string;
  is_nullable: 'YES' | 'NO';
  column_default: string | null;
  datetime_precision: number | null;
}

async function readDatabase(client: Client) {
  const columns = (
    await client.query<DbColumn>(
      `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, datetime_precision
         FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`,
    )
  ).rows;
  const indexes = (
    await client.query<Index>(
      `SELECT i.relname::text AS name, t.relname::text AS table,
              CASE WHEN x.indisprimary THEN 'primary' WHEN x.indisunique THEN 'unique' ELSE 'index' END AS kind,
              array_agg(a.attname::text ORDER BY k.ord) AS columns
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE n.nspname = 'public' AND t.relname <> '_prisma_migrations'
        GROUP BY i.relname, t.relname, x.indisprimary, x.indisunique`,
    )
  ).rows;
  const foreignKeys = (
    await client.query<ForeignKey>(
      `SELECT c.conname::text AS name, t.relname::text AS table, r.relname::text AS references,
              c.confdeltype::text AS "onDelete", c.confupdtype::text AS "onUpdate",
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS "referencedColumns"
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_class r ON r.oid = c.confrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE c.contype = 'f' AND n.nspname = 'public'`,
    )
  ).rows;
  const enums = (
    await client.query<{ name: string; values: string[] }>(
      `SELECT t.typname::text AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS values
         FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
         JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' GROUP BY t.typname`,
    )
  ).rows;
  return { columns, indexes, foreignKeys, enums };
}

const byName = <T extends { name: string }>(items: T[]) => [...items].sort((a, b) => a.name.localeCompare(b.name));

// ---------- the test ----------

let databases: TestDatabases;
beforeAll(async () => {
  databases = await createTestDatabases();
});
afterAll(async () => {
  await databases?.dispose();
});

describe.each(SERVICES.map((service) => [service]))(
  '%s: schema.prisma and migrations agree',
  (service: ServiceName) => {
    const schemaText = readFileSync(path.join(ROOT, 'prisma', service, 'schema.prisma'), 'utf8');
    const schema = parseSchema(schemaText);
    /* eslint-disable @typescript-eslint/no-require-imports */
    const generated = require(path.join(ROOT, 'services', service, 'generated', 'client')) as Record<string, unknown>;
    const { PrismaPg } = require('@prisma/adapter-pg') as typeof import('@prisma/adapter-pg');
    /* eslint-enable @typescript-eslint/no-require-imports */

    let client: Client;
    let prisma: GeneratedClient;
    let database: Awaited<ReturnType<typeof readDatabase>>;

    beforeAll(async () => {
      const PrismaClient = generated.PrismaClient as new (options: object) => GeneratedClient;
      prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databases.urls[service] }) });
      client = new Client({ connectionString: databases.urls[service] });
      await client.connect();
      database = await readDatabase(client);
    });
    afterAll(async () => {
      await client?.end();
      await prisma?.$disconnect();
    });

    const models = () => Object.entries(prisma._runtimeDataModel.models);
    const tableOf = (modelName: string) => prisma._runtimeDataModel.models[modelName]?.dbName ?? modelName;
    const columnOf = (modelName: string, fieldName: string) => {
      const field = prisma._runtimeDataModel.models[modelName]?.fields.find((f) => f.name === fieldName);
      if (!field) throw new Error(`${modelName}.${fieldName} is not a field`);
      return field.dbName ?? field.name;
    };

    it('has a generated client that is current (npm run db:generate)', () => {
      // The generator inlines the schema as `prisma format` lays it out: compare modulo alignment.
      const layout = (text: string) => text.replace(/[ \t]+/g, ' ').replace(/ $/gm, '');
      expect(layout(prisma._engineConfig.inlineSchema)).toBe(layout(schemaText));
    });

    it('has exactly the tables of the models', () => {
      const tables = [...new Set(database.columns.map((column) => column.table_name))].sort();
      expect(tables).toEqual(
        models()
          .map(([name]) => tableOf(name))
          .sort(),
      );
    });

    it('has each field as a column of the right type, nullability and default', () => {
      for (const [modelName, model] of models()) {
        const schemaModel = schema.models.get(modelName)!;
        const table = tableOf(modelName);
        const expected = model.fields
          .filter((field) => field.kind === 'scalar' || field.kind === 'enum')
          .map((field) => expectedColumn(field, schemaModel.fields.get(field.name)!, schema.enums))
          .sort((a, b) => a.column.localeCompare(b.column));
        const actual = database.columns
          .filter((column) => column.table_name === table)
          .map((column): ExpectedColumn => {
            const e = expected.find((candidate) => candidate.column === column.column_name);
            const actualColumn: ExpectedColumn = {
              column: column.column_name,
              dataType: column.data_type,
              nullable: column.is_nullable === 'YES',
            };
            if (column.data_type === 'USER-DEFINED') actualColumn.udtName = column.udt_name;
            if (e?.precision !== undefined) actualColumn.precision = column.datetime_precision ?? undefined;
            if (column.column_default !== null) {
              // Compare the default by the fragment the schema implies.
              actualColumn.defaultLike =
                e?.defaultLike && column.column_default.includes(e.defaultLike) ? e.defaultLike : column.column_default;
            }
            return actualColumn;
          })
          .sort((a, b) => a.column.localeCompare(b.column));
        expect({ table, columns: actual }).toEqual({ table, columns: expected });
      }
    });

    it('has the enums with the same values in the same order', () => {
      const expected = [...schema.enums.values()].map((e) => ({
        name: e.dbName,
        // The generated enum object is what the services code against.
        values: Object.values(generated[e.name] as Record<string, string>),
      }));
      for (const e of schema.enums.values()) expect(Object.values(generated[e.name] as object)).toEqual(e.values);
      expect(byName(database.enums)).toEqual(byName(expected));
    });

    it('has the primary keys, unique indexes and indexes with the names Prisma gives them', () => {
      const expected: Index[] = [];
      for (const [modelName, model] of schema.models) {
        const table = tableOf(modelName);
        const columns = (fields: string[]) => fields.map((field) => columnOf(modelName, field));
        for (const field of model.fields.values()) {
          if (/@id\b/.test(field.attributes))
            expected.push({ name: `${table}_pkey`, table, columns: columns([field.name]), kind: 'primary' });
          if (/@unique\b/.test(field.attributes)) {
            const [column] = columns([field.name]);
            expected.push({ name: `${table}_${column}_key`, table, columns: [column!], kind: 'unique' });
          }
        }
        for (const attribute of model.blockAttributes) {
          const kind = /^@@id\b/.test(attribute)
            ? 'primary'
            : /^@@unique\b/.test(attribute)
              ? 'unique'
              : /^@@index\b/.test(attribute)
                ? 'index'
                : undefined;
          if (!kind) continue;
          if (/\b(name|map)\s*:/.test(attribute))
            throw new Error(`The drift test does not read named indexes yet: ${attribute}`);
          const cols = columns(listArgument(attribute));
          const name =
            kind === 'primary' ? `${table}_pkey` : `${table}_${cols.join('_')}_${kind === 'unique' ? 'key' : 'idx'}`;
          expected.push({ name, table, columns: cols, kind });
        }
      }
      expect(byName(database.indexes)).toEqual(byName(expected));
    });

    it('has the foreign keys of the relations, and none across databases', () => {
      const expected: ForeignKey[] = [];
      for (const [modelName, model] of schema.models) {
        const table = tableOf(modelName);
        for (const field of model.fields.values()) {
          const relation = /@relation\(([^)]*)\)/.exec(field.attributes)?.[1];
          if (!relation || !/fields\s*:/.test(relation)) continue;
          const fields = listArgument(relation.slice(relation.indexOf('fields')));
          const references = listArgument(relation.slice(relation.indexOf('references')));
          const columns = fields.map((name) => columnOf(modelName, name));
          const onDelete = /onDelete\s*:\s*(\w+)/.exec(relation)?.[1] ?? (field.optional ? 'SetNull' : 'Restrict');
          const onUpdate = /onUpdate\s*:\s*(\w+)/.exec(relation)?.[1] ?? 'Cascade';
          expected.push({
            name: `${table}_${columns.join('_')}_fkey`,
            table,
            columns,
            references: tableOf(field.type),
            referencedColumns: references.map((name) => columnOf(field.type, name)),
            onDelete: REFERENTIAL_ACTIONS[onDelete]!,
            onUpdate: REFERENTIAL_ACTIONS[onUpdate]!,
          });
        }
      }
      expect(byName(database.foreignKeys)).toEqual(byName(expected));
    });

    it('is usable through the generated client', async () => {
      const [firstModel] = models()[0]!;
      const delegate = prisma[firstModel.charAt(0).toLowerCase() + firstModel.slice(1)] as { count(): Promise<number> };
      await expect(delegate.count()).resolves.toEqual(expect.any(Number));
    });
  },
);
