"""One module per ``taplab`` subcommand; each defines ``register(subparsers)``."""

import argparse


def subcommand(sub, name: str, help: str, examples: list[str], **kwargs) -> argparse.ArgumentParser:
    """Add a subcommand whose help ends with examples."""
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
    return sub.add_parser(name, help=help, description=help, epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
