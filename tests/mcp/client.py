"""A real MCP client (the official Python SDK) against `ctx mcp`, in both protocol eras.

usage: python client.py CTX ROOT

Starts `ctx mcp -C ROOT` (and `--allow-gates` for the gate run), lists and calls every
tool, reads a resource, gets a prompt, and checks each answer against what the CLI prints
for the same request. Exits non-zero with the first difference.
"""
import asyncio
import json
import subprocess
import sys

from mcp import Client, StdioServerParameters

CTX, ROOT = sys.argv[1], sys.argv[2]
ENV = {"CTX_TODAY": "2026-12-01", "NO_COLOR": "1"}


def cli(*args):
    result = subprocess.run([CTX, "-C", ROOT, *args], capture_output=True, text=True, env={**ENV, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, f"ctx {' '.join(args)}: {result.stderr}"
    return result.stdout


def text(result):
    return "".join(block.text for block in result.content if block.type == "text")


async def check(mode):
    server = StdioServerParameters(command=CTX, args=["-C", ROOT, "mcp"], env=ENV)
    async with Client(server, mode=mode) as client:
        tools = sorted(tool.name for tool in (await client.list_tools()).tools)
        assert tools == ["ctx_bundle", "ctx_explain", "ctx_gates_plan", "ctx_list", "ctx_validate"], tools
        assert all(tool.annotations.read_only_hint for tool in (await client.list_tools()).tools)

        listing = await client.call_tool("ctx_list", {})
        features = {feature["name"]: feature for feature in listing.structured_content["features"]}
        assert set(features) == {"cart", "checkout"}, features
        assert [i["key"] for i in features["checkout"]["inputs"]] == ["ticket"]

        # The bundle: 20,000 tokens by default, so the CLI with that budget prints the same.
        bundle = await client.call_tool("ctx_bundle", {"feature": "checkout", "set": {"ticket": "SHOP-1"}})
        assert not bundle.is_error, text(bundle)
        expected = cli("bundle", "checkout", "--set", "ticket=SHOP-1", "--budget", "20000")
        assert text(bundle) == expected, "ctx_bundle differs from `ctx bundle --budget 20000`"
        assert bundle.structured_content["digest"] in expected
        assert bundle.structured_content["rendered_tokens"] <= 20000

        # A small max_tokens sheds whole items and says which; one below what can never
        # be shed is an error, never a cut text.
        small = await client.call_tool("ctx_bundle", {"feature": "checkout", "set": {"ticket": "SHOP-1"}, "max_tokens": 4000})
        assert not small.is_error, text(small)
        assert small.structured_content["rendered_tokens"] <= 4000
        assert small.structured_content["shed"], "nothing shed at 4,000 tokens"
        tiny = await client.call_tool("ctx_bundle", {"feature": "checkout", "set": {"ticket": "SHOP-1"}, "max_tokens": 500})
        assert tiny.is_error and "over max_tokens 500" in text(tiny), text(tiny)

        as_json = await client.call_tool("ctx_bundle", {"feature": "cart", "format": "json"})
        assert json.loads(text(as_json))["schema"] == "ctx.bundle/v1"

        explain = await client.call_tool("ctx_explain", {"feature": "checkout", "set": {"ticket": "SHOP-1"}, "budget": 20000})
        assert text(explain) == cli("explain", "checkout", "--set", "ticket=SHOP-1", "--budget", "20000")
        assert explain.structured_content["schema"] == "ctx.explain/v1"

        validate = await client.call_tool("ctx_validate", {})
        assert validate.structured_content["ok"] is True, text(validate)

        plan = await client.call_tool("ctx_gates_plan", {"feature": "checkout"})
        assert text(plan) == cli("gates", "checkout", "--dry-run")
        assert plan.structured_content["count"] == len(plan.structured_content["gates"]) > 0

        typo = await client.call_tool("ctx_bundle", {"feature": "chekout"})
        assert typo.is_error and "did you mean `checkout`" in text(typo), text(typo)
        missing = await client.call_tool("ctx_bundle", {"feature": "checkout"})
        assert missing.is_error and "needs `ticket`" in text(missing), text(missing)

        resources = [str(resource.uri) for resource in (await client.list_resources()).resources]
        assert "ctx://bundle/checkout" in resources and "ctx://explain/cart" in resources, resources
        resource = await client.read_resource("ctx://bundle/cart")
        assert resource.contents[0].text == cli("bundle", "cart", "--budget", "20000")

        prompts = {prompt.name: prompt for prompt in (await client.list_prompts()).prompts}
        assert [argument.name for argument in prompts["checkout"].arguments] == ["ticket"]
        prompt = await client.get_prompt("checkout", {"ticket": "SHOP-1"})
        assert prompt.messages[0].content.text == expected
    print(f"python {mode}: ok")


async def gates(mode):
    server = StdioServerParameters(command=CTX, args=["-C", ROOT, "mcp", "--allow-gates"], env=ENV)
    async with Client(server, mode=mode) as client:
        assert "ctx_gates_run" in [tool.name for tool in (await client.list_tools()).tools]
        run = await client.call_tool("ctx_gates_run", {"feature": "cart"})
        assert not run.is_error, text(run)
        assert run.structured_content["verdict"] == "passed", run.structured_content
        assert run.structured_content["counts"]["pass"] == len(run.structured_content["gates"]) > 0
    print(f"python {mode} gates: ok")


async def main():
    for mode in ("legacy", "2026-07-28"):
        await check(mode)
    await gates("legacy")


asyncio.run(main())
