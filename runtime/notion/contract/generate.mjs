#!/usr/bin/env node
// Regenerates the vendored Notion contract beside this file from the official SDK's TypeScript types:
//
//   node runtime/notion/contract/generate.mjs          (needs node >= 18 and npm; downloads into a temp folder)
//
// What it writes (commit all three; tests only read them, so CI needs no node):
//   requests.schema.json   the request body and query types of the endpoints aidlc uses, strict
//                          (additionalProperties: false, as Notion refuses unknown keys)
//   responses.schema.json  their response types and the webhook payload types, open (Notion adds fields)
//   manifest.json          SDK version, its default Notion-Version, generator versions, and per endpoint:
//                          method, path template (from the SDK's own endpoint descriptors), body/query/response types
//
// The SDK ships only compiled `.d.ts` files, and keeps the *BodyParameters types module-private; a copy with every
// `type` exported lets the generator address them by name without changing any of them.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SDK = "@notionhq/client";
const SDK_VERSION = "5.26.0"; // its Client.defaultNotionVersion is 2025-09-03, the version aidlc speaks
const GENERATOR_VERSION = "2.10.0"; // ts-json-schema-generator
const TYPESCRIPT_VERSION = "5.9.3";
const EXPECTED_NOTION_VERSION = "2025-09-03";

// The endpoints aidlc (adapter and emulator) uses: SDK descriptor name -> types. `full` is the non-partial
// object type the emulator must answer with (the SDK's declared responses also allow the partial `{object, id}`).
const ENDPOINTS = {
  getSelf: { response: "GetSelfResponse" },
  listUsers: { query: "ListUsersQueryParameters", response: "ListUsersResponse" },
  getUser: { response: "GetUserResponse" },
  createPage: { body: "CreatePageBodyParameters", query: "CreatePageQueryParameters", response: "CreatePageResponse", full: "PageObjectResponse" },
  getPage: { query: "GetPageQueryParameters", response: "GetPageResponse", full: "PageObjectResponse" },
  updatePage: { body: "UpdatePageBodyParameters", query: "UpdatePageQueryParameters", response: "UpdatePageResponse", full: "PageObjectResponse" },
  getBlock: { response: "GetBlockResponse", full: "BlockObjectResponse" },
  deleteBlock: { response: "DeleteBlockResponse", full: "BlockObjectResponse" },
  listBlockChildren: { query: "ListBlockChildrenQueryParameters", response: "ListBlockChildrenResponse" },
  appendBlockChildren: { body: "AppendBlockChildrenBodyParameters", response: "AppendBlockChildrenResponse" },
  createDatabase: { body: "CreateDatabaseBodyParameters", response: "CreateDatabaseResponse", full: "DatabaseObjectResponse" },
  getDatabase: { response: "GetDatabaseResponse", full: "DatabaseObjectResponse" },
  createDataSource: { body: "CreateDataSourceBodyParameters", response: "CreateDataSourceResponse", full: "DataSourceObjectResponse" },
  getDataSource: { response: "GetDataSourceResponse", full: "DataSourceObjectResponse" },
  updateDataSource: { body: "UpdateDataSourceBodyParameters", response: "UpdateDataSourceResponse", full: "DataSourceObjectResponse" },
  queryDataSource: { body: "QueryDataSourceBodyParameters", query: "QueryDataSourceQueryParameters", response: "QueryDataSourceResponse" },
  createComment: { body: "CreateCommentBodyParameters", response: "CreateCommentResponse", full: "CommentObjectResponse" },
  listComments: { query: "ListCommentsQueryParameters", response: "ListCommentsResponse" },
  search: { body: "SearchBodyParameters", response: "SearchResponse" },
};
// Webhook deliveries the emulator sends (checked like responses).
const EVENTS = {
  "page.created": "PageCreatedWebhookPayload",
  "page.properties_updated": "PagePropertiesUpdatedWebhookPayload",
  "page.content_updated": "PageContentUpdatedWebhookPayload",
  "page.deleted": "PageDeletedWebhookPayload",
  "page.undeleted": "PageUndeletedWebhookPayload",
  "comment.created": "CommentCreatedWebhookPayload",
  "data_source.schema_updated": "DataSourceSchemaUpdatedWebhookPayload",
};

const here = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), "notion-contract-"));
try {
  execFileSync("npm", ["init", "-y"], { cwd: work, stdio: "ignore" });
  execFileSync(
    "npm",
    ["install", "--no-audit", "--no-fund", "--silent", `${SDK}@${SDK_VERSION}`,
     `ts-json-schema-generator@${GENERATOR_VERSION}`, `typescript@${TYPESCRIPT_VERSION}`],
    { cwd: work, stdio: "inherit" },
  );
  const require = createRequire(join(work, "package.json"));
  const { Client } = require(SDK);
  if (Client.defaultNotionVersion !== EXPECTED_NOTION_VERSION) {
    throw new Error(`${SDK}@${SDK_VERSION} defaults to ${Client.defaultNotionVersion}, not ${EXPECTED_NOTION_VERSION}`);
  }
  const descriptors = require(`${SDK}/build/src/api-endpoints`);

  const source = join(work, "node_modules", SDK, "build", "src", "api-endpoints");
  const types = join(work, "types");
  cpSync(source, types, { recursive: true, filter: (p) => !p.endsWith(".js") && !p.endsWith(".map") });
  for (const name of readdirSync(types).filter((n) => n.endsWith(".d.ts"))) {
    const file = join(types, name);
    writeFileSync(file, readFileSync(file, "utf8").replace(/^(declare )?type /gm, "export type "));
  }
  writeFileSync(join(types, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, skipLibCheck: true } }));

  const { createGenerator } = require("ts-json-schema-generator");
  const generate = (names, additionalProperties) => {
    const generator = createGenerator({
      path: join(types, "*.d.ts"),
      tsconfig: join(types, "tsconfig.json"),
      expose: "all", // every named SDK type becomes one shared definition: small files, readable $refs
      jsDoc: "none", // descriptions stripped: the files stay small, and they are not part of the contract
      skipTypeCheck: true,
      additionalProperties,
      topRef: true,
    });
    const definitions = {};
    for (const name of names) Object.assign(definitions, generator.createSchema(name).definitions);
    return { $schema: "http://json-schema.org/draft-07/schema#", definitions: sortKeys(inlineAnonymous(definitions)) };
  };

  const requestTypes = Object.values(ENDPOINTS).flatMap((e) => [e.body, e.query]).filter(Boolean);
  const responseTypes = [
    ...Object.values(ENDPOINTS).flatMap((e) => [e.response, e.full]).filter(Boolean),
    ...Object.values(EVENTS),
  ];
  const requests = generate([...new Set(requestTypes)], false);
  const responses = generate([...new Set(responseTypes)], true);

  const endpoints = {};
  for (const [name, types] of Object.entries(ENDPOINTS)) {
    const d = descriptors[name];
    if (!d) throw new Error(`${SDK}@${SDK_VERSION} has no endpoint ${name}`);
    const placeholders = Object.fromEntries(d.pathParams.map((p) => [p, `{${p}}`]));
    endpoints[name] = {
      method: d.method.toUpperCase(),
      path: d.path(placeholders),
      path_params: [...d.pathParams],
      query_params: [...d.queryParams],
      body_params: [...d.bodyParams],
      ...types,
    };
  }
  const manifest = {
    sdk: SDK,
    sdk_version: SDK_VERSION,
    notion_version: Client.defaultNotionVersion,
    generator: `ts-json-schema-generator@${GENERATOR_VERSION} (typescript@${TYPESCRIPT_VERSION})`,
    regenerate: "node runtime/notion/contract/generate.mjs",
    endpoints,
    events: EVENTS,
  };
  const write = (name, value) => writeFileSync(join(here, name), JSON.stringify(value, null, 1) + "\n");
  write("requests.schema.json", requests);
  write("responses.schema.json", responses);
  write("manifest.json", manifest);
  console.log(`wrote the contract of ${SDK}@${SDK_VERSION} (Notion-Version ${manifest.notion_version}) to ${here}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

// The generator names anonymous types after their source positions (`Record<string,(structure-9675...)>`), which
// change with every SDK release; those few (none recursive) are inlined where used, so every name left is the SDK's.
function inlineAnonymous(definitions) {
  const anonymous = (name) => !/^[A-Za-z0-9_]+$/.test(name);
  const resolve = (node) => {
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== "object") return node;
    if (typeof node.$ref === "string") {
      const name = decodeURIComponent(node.$ref.replace("#/definitions/", ""));
      if (anonymous(name)) return resolve(definitions[name]);
    }
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, resolve(value)]));
  };
  return Object.fromEntries(
    Object.entries(definitions).filter(([name]) => !anonymous(name)).map(([name, body]) => [name, resolve(body)]),
  );
}

function sortKeys(object) {
  return Object.fromEntries(Object.keys(object).sort().map((key) => [key, object[key]]));
}
