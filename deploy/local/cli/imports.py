"""stub"""
import typer

import_app = typer.Typer()
