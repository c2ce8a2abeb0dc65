#!/usr/bin/python3
"""`vllm` CLI of the vllm/vllm-openai:v0.10.2 stand-in (tests only): `vllm serve [model_tag] [options]`."""
import sys

from vllm.entrypoints.openai.api_server import cli

if __name__ == "__main__":
    cli(sys.argv[1:])
