"""stub"""
import typer

outbox_app = typer.Typer()
