"""How the CLI answers a mistake: one line on stderr and exit status 2, never a traceback.

A command raises `UsageError` for what a person typed or gave it (an unknown
client, an item name, a file that is missing or not what it should be);
`run` turns that, a network description that cannot be read, a node's
refusal and a node that cannot be reached into one line. Input files are
read through `read_text` and `read_message` so their errors say which file
and what is wrong with it without echoing its contents.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import grpc
from google.protobuf import descriptor_pool, json_format
from google.protobuf import message as protobuf_message

from jukinet.core.config import ConfigError, NodeConfig, load_node_config
from jukinet.core.errors import JukiError, status_line

M = TypeVar("M", bound=protobuf_message.Message)

USAGE = 2  # exit status of every mistake a person can make
FAILED = 1  # exit status of a failure that is not the person's mistake
PROG = "juki-net"


class UsageError(JukiError):
    """A mistake in what a person typed or gave the command as input."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (and a hint where the help is)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def say_error(message: str) -> int:
    """Print one line to stderr; the exit status of a mistake."""
    print(f"{PROG}: {message}", file=sys.stderr)
    return USAGE


def refusal_line(error: grpc.RpcError) -> str:
    """One line for a failed call: the node's status and reason, or why it was not reached."""
    details = error.details() if isinstance(error, grpc.Call) else ""
    status = status_line(error)
    if status == "UNAVAILABLE":
        return f"node not reachable ({status}): {details}"
    return f"refused: {status}: {details}"


def read_text(path: Path) -> str:
    """The text of an input file; UsageError naming the file and the problem."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror or type(error).__name__}") from None


def node_config(path: Path) -> NodeConfig:
    """The node config at `path`; UsageError saying what is wrong with it (the one reading of
    a config file for every command)."""
    read_text(path)  # a missing or unreadable file is the operator's mistake
    try:
        return load_node_config(path)
    except (OSError, ConfigError) as error:
        raise UsageError(f"{path}: not a node config ({error})") from None


def read_bytes(path: Path) -> bytes:
    """The bytes of an input file; UsageError naming the file and the problem."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror or type(error).__name__}") from None


def _parse_problem(error: json_format.ParseError) -> str:
    """What is wrong with a protobuf JSON file, without repeating the values it holds."""
    text = str(error)
    enum = re.search(r"for enum type ([\w.]+) at ([\w.]*\w)", text)
    if enum:
        values = descriptor_pool.Default().FindEnumTypeByName(enum[1]).values
        names = [v.name for v in values if v.number != 0]  # 0 is each enum's UNSPECIFIED
        return f"{enum[2]} is not a {enum[1]}; use one of {', '.join(names)}"
    unknown = re.search(r'has no field named "([^"]+)" at "([^"]+)"', text)
    if unknown:
        return f'{unknown[2]} has no field "{unknown[1]}"'
    if text.startswith("Failed to load JSON"):
        return "not JSON (" + text.split(": ", 1)[-1].rstrip(".") + ")"
    fields = re.findall(r"Failed to parse (\w+) field", text)
    if fields:
        return f"{'.'.join(fields)} has the wrong type or format"
    return "not valid protobuf JSON"


def read_message(path: Path, message_type: type[M]) -> M:
    """A protobuf message from a JSON file; UsageError saying what is wrong with it."""
    text = read_text(path)
    try:
        return json_format.Parse(text, message_type())
    except json_format.ParseError as error:
        name = message_type.DESCRIPTOR.full_name
        raise UsageError(f"{path}: not a {name}: {_parse_problem(error)}") from None


def _output_closed() -> int:
    """stdout went away (`juki-net status | head -1`): say so once, write nothing more."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return say_error("standard output was closed before everything was written")


def run(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one command; every expected failure becomes one line and exit status 2."""
    try:
        status = command(args)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        return _output_closed()
    except JukiError as error:  # UsageError, NetworkError, PkiError… : messages for people
        return say_error(str(error))
    except grpc.RpcError as error:
        return say_error(refusal_line(error))
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        return say_error(f"{where}{error.strerror or type(error).__name__}")
    except KeyboardInterrupt:
        return say_error("interrupted")
    except Exception as error:
        if getattr(args, "traceback", False):
            raise
        say_error(f"failed unexpectedly ({type(error).__name__}); rerun with --traceback")
        return FAILED
