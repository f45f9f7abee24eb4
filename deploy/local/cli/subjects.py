"""stub"""
import typer

subjects_app = typer.Typer()
