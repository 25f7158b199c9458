"""``dataferry agent status|stop``: the resident local agents that record runs and
start their drivers (``execution/agent.py``)."""

from __future__ import annotations

import json
import time

import click


@click.group("agent")
def agent() -> None:
    """The local agent: a resident process that records submitted runs and starts their
    drivers, so that a submitting script imports no catalog code. It starts on the first
    submission and exits after DATAFERRY_AGENT_IDLE_S seconds idle (default 600);
    DATAFERRY_AGENT=0 submits without it."""


@agent.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON list, stable keys.")
def status(as_json: bool) -> None:
    """List the running agents: pid, age, submissions served, drivers running.

    With --json: a list of objects with the keys pid, key, started (Unix time),
    served, drivers, idle_s, executable and package.
    """
    from dataferry.execution.agent_client import running_agents

    agents = running_agents()
    if as_json:
        click.echo(json.dumps(agents, indent=2))
        return
    if not agents:
        click.echo("No agent is running.")
        return
    for a in agents:
        age = time.time() - float(a["started"])
        click.echo(
            f"agent {a['pid']}: up {age:.0f} s, {a['served']} submissions, "
            f"{a['drivers']} drivers running, exits after {a['idle_s']:.0f} s idle "
            f"({a['executable']}, {a['package']})"
        )


@agent.command("stop")
def stop() -> None:
    """Stop every running agent. Runs they started go on (each has its own driver)."""
    from dataferry.execution.agent_client import stop_agents

    pids = stop_agents()
    click.echo(
        f"Stopped agent {', '.join(map(str, pids))}."
        if pids
        else "No agent is running."
    )
