"""The parsers of the commands an auditor and a service owner use: the controls matrix, the
deficiency register and the signed risk decisions on it."""

from __future__ import annotations

from pathlib import Path


def add_compliance_commands(sub) -> None:
    """The commands an auditor and a service owner read: the controls matrix, the deficiency register."""
    controls = sub.add_parser("controls", help="the compliance matrix of a period: each control, its drills",
                              description="Per control named in the drills' [evidence] controls, every drill of the "
                              "period the ledger holds: verdict, RTO and RPO met, signature valid (by --public-key; "
                              "legacy HMAC folders never count as signed), sign-offs valid (by --allowed-signers). "
                              "oscal: NIST OSCAL assessment-results JSON.")  # fmt: skip
    controls.add_argument("--report-dir", default="reports", metavar="DIR")
    controls.add_argument("--since", required=True, metavar="YYYY-MM-DD")
    controls.add_argument("--until", metavar="YYYY-MM-DD", help="the first day not included (default: now)")
    controls.add_argument("--format", default="markdown", choices=("markdown", "json", "oscal"))
    controls.add_argument("--public-key", action="append", default=[], type=Path, metavar="PEM")
    controls.add_argument("--allowed-signers", type=Path, metavar="FILE")
    register = sub.add_parser("deficiencies", help="the deficiency register: each failed check, open until fixed",
                              description="Every failed or unproven check of the ledger's drills, as a deficiency "
                              "of its target: severity, owner, due day ([evidence] owner, fix_within_days), the "
                              "drills that failed it, and the drill that closed it (a later drill of the target "
                              "that passed every index or type that failed). Counts only drills whose signed "
                              "statement verifies with --public-key (without one: every drill, marked UNVERIFIED). "
                              "oscal: an OSCAL plan-of-action-and-milestones (POA&M).")  # fmt: skip
    register.add_argument("--report-dir", default="reports", metavar="DIR")
    register.add_argument("--open", action="store_true", help="only the deficiencies still open")
    register.add_argument("--format", default="markdown", choices=("markdown", "json", "oscal"))
    register.add_argument("--public-key", action="append", default=[], type=Path, metavar="PEM")
    register.add_argument("--allowed-signers", type=Path, metavar="FILE",
                          help="who may accept or assign a deficiency (principal key-type key, as git's); "
                          "without it no risk decision is applied")  # fmt: skip
    decided = ("Appends a ledger line signed with your own SSH key (ssh-keygen -Y sign, namespace drtests-ledger); "
               "drtests deficiencies --allowed-signers F applies it when the signature verifies.")  # fmt: skip
    accept = sub.add_parser("accept-risk", help="accept a deficiency's risk until a day, signed with your SSH key",
                            description=f"The deficiency stays open, shown ACCEPTED (not overdue) until --until; a "
                            f"reopening needs its own acceptance. {decided}")  # fmt: skip
    assign = sub.add_parser("assign", help="name who fixes a deficiency, signed with your SSH key",
                            description=f"Its owner from then on, instead of the drill config's [evidence] owner. "
                            f"{decided}")  # fmt: skip
    for decision in (accept, assign):
        decision.add_argument("deficiency", metavar="KEY", help="as drtests deficiencies names it: target/phase/check")
        decision.add_argument("--report-dir", default="reports", metavar="DIR")
        decision.add_argument("--by", required=True, help="your principal in allowed_signers, e.g. ann@example.com")
        decision.add_argument("--key", required=True, type=Path, metavar="SSH_KEY", help="e.g. ~/.ssh/id_ed25519")
    accept.add_argument("--until", required=True, metavar="YYYY-MM-DD", help="the last day the risk is accepted")
    accept.add_argument("--reason", required=True, help="why it is accepted rather than fixed")
    assign.add_argument("--owner", required=True, help="who fixes it, e.g. team-storage@example.com")
    assign.add_argument("--reason", default="")
