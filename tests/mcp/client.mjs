// A real MCP client (the official TypeScript SDK) against `ctx mcp`.
//
// usage: node client.mjs CTX ROOT
//
// Starts `ctx mcp -C ROOT`, lists and calls every tool, reads a resource, gets a prompt,
// and checks each answer against what the CLI prints for the same request. Exits
// non-zero with the first difference.
import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [ctx, root] = process.argv.slice(2);
const env = { CTX_TODAY: "2026-12-01", NO_COLOR: "1", PATH: "/usr/bin:/bin" };
const cli = (...args) => execFileSync(ctx, ["-C", root, ...args], { env, encoding: "utf8" });
const text = (result) => result.content.filter((block) => block.type === "text").map((block) => block.text).join("");

async function connect(extra = []) {
  const client = new Client({ name: "ctx-tests", version: "1.0.0" });
  await client.connect(new StdioClientTransport({ command: ctx, args: ["-C", root, "mcp", ...extra], env, stderr: "inherit" }));
  return client;
}

const client = await connect();
const tools = (await client.listTools()).tools;
assert.deepEqual(tools.map((tool) => tool.name).sort(), ["ctx_bundle", "ctx_explain", "ctx_gates_plan", "ctx_list", "ctx_validate"]);
assert.ok(tools.every((tool) => tool.annotations.readOnlyHint === true));

const listing = await client.callTool({ name: "ctx_list", arguments: {} });
assert.deepEqual(listing.structuredContent.features.map((feature) => feature.name).sort(), ["cart", "checkout"]);

const expected = cli("bundle", "checkout", "--set", "ticket=SHOP-1", "--budget", "20000");
const bundle = await client.callTool({ name: "ctx_bundle", arguments: { feature: "checkout", set: { ticket: "SHOP-1" } } });
assert.equal(bundle.isError, false, text(bundle));
assert.equal(text(bundle), expected);
assert.ok(expected.includes(bundle.structuredContent.digest));

const explain = await client.callTool({ name: "ctx_explain", arguments: { feature: "cart" } });
assert.equal(text(explain), cli("explain", "cart", "--budget", "20000"));

const validate = await client.callTool({ name: "ctx_validate", arguments: {} });
assert.equal(validate.structuredContent.ok, true);

const plan = await client.callTool({ name: "ctx_gates_plan", arguments: { feature: "checkout" } });
assert.equal(text(plan), cli("gates", "checkout", "--dry-run"));

const typo = await client.callTool({ name: "ctx_bundle", arguments: { feature: "chekout" } });
assert.equal(typo.isError, true);
assert.match(text(typo), /did you mean `checkout`/);

await assert.rejects(client.callTool({ name: "ctx_bundle", arguments: { nope: 1 } }), /-32602|bad arguments/);

const templates = (await client.listResourceTemplates()).resourceTemplates.map((template) => template.uriTemplate);
assert.ok(templates.includes("ctx://bundle/{feature}"));
const resource = await client.readResource({ uri: "ctx://bundle/cart" });
assert.equal(resource.contents[0].text, cli("bundle", "cart", "--budget", "20000"));
await assert.rejects(client.readResource({ uri: "ctx://bundle/nope" }), /no feature `nope`/);

const prompts = (await client.listPrompts()).prompts;
assert.deepEqual(prompts.find((prompt) => prompt.name === "checkout").arguments.map((argument) => argument.name), ["ticket"]);
const prompt = await client.getPrompt({ name: "checkout", arguments: { ticket: "SHOP-1" } });
assert.equal(prompt.messages[0].content.text, expected);
await client.close();
console.log("typescript: ok");

const gates = await connect(["--allow-gates"]);
const run = await gates.callTool({ name: "ctx_gates_run", arguments: { feature: "cart" } });
assert.equal(run.isError, false, text(run));
assert.equal(run.structuredContent.verdict, "passed");
await gates.close();
console.log("typescript gates: ok");
