"""The block types prefect-compose's flows take: `ComposeProject` (compose_project.py)."""
