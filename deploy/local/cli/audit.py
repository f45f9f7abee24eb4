"""stub"""
import typer

audit_app = typer.Typer()
