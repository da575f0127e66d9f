#!/usr/bin/env python3
"""A simulated Asterisk for the demo (``make run ARGS=--demo-pbx``): the suite's local ARI server
(``omnichannel_voip/tests/fake_ari.py``, the one the tests run against) on 127.0.0.1:8088, where
the demo's Switchboard channel points, with the demo's ARI user.

Every ``--every`` seconds a demo customer calls: the ARI listener routes the call, the agent it
rings (admin is extension 101, demo 102) sees the screen pop, and the call is answered or missed
in turn. Click-to-dial calls from Odoo ring the agent and are answered by the customer. Nothing
leaves 127.0.0.1; a real Asterisk replaces it by the channel's settings alone (README, Phone calls).
"""

import argparse
import importlib.util
import itertools
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Demo customers' mobiles as a Spanish trunk gives them (national digits), and the company's number.
CALLERS = ["629184305", "678215964", "686430157", "655871240", "644127359", "691527803"]
DID = "910000000"


def load_fake_ari():
    spec = importlib.util.spec_from_file_location("fake_ari", ROOT / "omnichannel_voip" / "tests" / "fake_ari.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FakeAri


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--every", type=float, default=180, help="seconds between demo calls (0: none)")
    args = parser.parse_args()
    ari = load_fake_ari()(user="odoo", password="demo-ari-secret")
    ari.stasis_timeout = 10.0
    ari.originate_plan("*", customer="answer", ring_seconds=4, talk_seconds=75)
    try:
        ari.start(args.port)
    except OSError as exc:
        sys.exit(f"demo PBX: cannot listen on 127.0.0.1:{args.port}: {exc}")
    print(f"[demo-pbx] simulated Asterisk ARI on {ari.url} (user odoo); a call every {args.every:.0f} s", flush=True)
    callers = itertools.cycle(CALLERS)
    answers = itertools.cycle([None, "101", "102"])  # missed, then answered by admin, by demo
    try:
        while args.every:
            time.sleep(args.every)
            if not ari.connected():
                continue  # no listener: a real Asterisk would send the call to the dialplan's fallback
            # The scenario plays the call at once on the PBX's clock: start it so that it ends now.
            ari.clock = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(seconds=90)
            caller, answer = next(callers), next(answers)
            run = ari.inbound(caller=caller, did=DID, answer=answer, ring_seconds=12, talk_seconds=70).wait(30)
            # Odoo chose whom to ring: the agent meant to answer may not have been rung.
            answered = any(
                event["type"] == "Dial" and event.get("dialstatus") == "ANSWER"
                and (event.get("caller") or {}).get("id") == run.linkedid
                for event in ari.events
            )  # fmt: skip
            print(f"[demo-pbx] call from {caller}: {'answered by ' + answer if answered else 'missed'}", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        ari.stop()


if __name__ == "__main__":
    main()
