// The OpenAPI 3.0 document of the REST API, generated from the route table (route.ts), served where the
// original serves its swagger: /swagger/doc.json (and a small human page at /swagger/index.html).
// The original's document is Swagger 2.0 made by swag from Go comments; ours is OpenAPI 3.0 (docs/compatibility.md).

import { BASE, type Route } from "./route.ts";

const ERROR_BODY = {
  type: "object",
  required: ["errcode", "description"],
  properties: {
    errcode: { type: "integer", description: "the HTTP status" },
    description: { type: "string", description: "what went wrong, naming the object or field, and the fix" },
  },
};

const LIST_PARAMS = [
  { name: "page", in: "query", schema: { type: "integer", minimum: 1 }, description: "page number from 1 (default 1)" },
  { name: "pageSize", in: "query", schema: { type: "integer" }, description: "items per page, -1 = all (default: all when page is absent too, else 10)" },
  { name: "sortDir", in: "query", schema: { type: "string", enum: ["asc", "desc"] } },
  { name: "fuzzy", in: "query", schema: { type: "boolean", default: true }, description: "name filters match substrings case-insensitively (false: exact)" },
];

const VERSION = "v1alpha1";

export function openApiDocument(routes: Route[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = BASE + r.path.replace(/:([A-Za-z]+)/g, "{$1}");
    const params: unknown[] = [...r.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    if (r.list) {
      params.push(...LIST_PARAMS);
      const sorts = Object.keys(r.list.sorts ?? {});
      if (sorts.length)
        params.push({
          name: "sort",
          in: "query",
          schema: { type: "string", enum: sorts },
          description: `sort key (alias sortBy)${r.list.defaultSort ? `; default ${r.list.defaultSort.key} ${r.list.defaultSort.dir}` : ""}`,
        });
      for (const f of r.list.filters ?? []) params.push({ name: f, in: "query", schema: { type: "string" }, description: "filter" });
    }
    for (const [name, description] of Object.entries(r.query ?? {})) params.push({ name, in: "query", schema: { type: "string" }, description });
    const responses: Record<string, unknown> = {
      "200": { description: r.returns, content: { "application/json": { schema: { type: "object" } } } },
      "400": {
        description: "bad parameter or body (the description names it)",
        content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorBody" } } },
      },
      "404": { description: "unknown name", content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorBody" } } } },
    };
    if (r.auth !== false)
      responses["401"] = {
        description: "authentication is on and the token is missing, unknown or expired",
        content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorBody" } } },
      };
    if (r.method === "POST")
      responses["409"] = {
        description: "the object's state forbids the action (the description says why)",
        content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorBody" } } },
      };
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${r.path.replace(/[/:](\w)/g, (_m, ch: string) => ch.toUpperCase())}`,
      parameters: params,
      responses,
      ...(r.auth === false ? { security: [] } : {}),
    };
    if (r.body)
      op.requestBody = { required: (r.body.required as string[] | undefined)?.length ? true : false, content: { "application/json": { schema: r.body } } };
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.0.3",
    info: {
      title: "HwameiStor REST API",
      version: VERSION,
      description:
        "The REST API of HwameiStor's apiserver component (`hwameistor rest`). Errors answer {errcode, description}. With authentication on, log in at POST /cluster/auth/auth and send the token in the Authorization header.",
    },
    servers: [{ url: "/" }],
    components: {
      schemas: { ErrorBody: ERROR_BODY },
      securitySchemes: {
        token: { type: "apiKey", in: "header", name: "Authorization", description: "the token from /cluster/auth/auth, bare or as `Bearer <token>`" },
      },
    },
    security: [{ token: [] }],
    paths,
  };
}

/** A plain page listing every route (no swagger-ui bundle: nothing fetched from a CDN). */
export function swaggerIndexHtml(doc: Record<string, unknown>): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]!);
  const rows: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { summary: string }>>)) {
    for (const [method, op] of Object.entries(ops))
      rows.push(`<tr><td><code>${method.toUpperCase()}</code></td><td><code>${esc(path)}</code></td><td>${esc(op.summary)}</td></tr>`);
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>HwameiStor REST API</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}td{border-bottom:1px solid #ddd;padding:.3rem .6rem;vertical-align:top}</style></head>
<body><h1>HwameiStor REST API</h1><p>OpenAPI document: <a href="doc.json">doc.json</a></p>
<table><thead><tr><th scope="col">Method</th><th scope="col">Path</th><th scope="col">What</th></tr></thead><tbody>${rows.join("")}</tbody></table></body></html>`;
}
