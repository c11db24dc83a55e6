"""The Slack front door: signed requests in (events, slash commands, buttons), routed by the registry onto the same
task queue as the Notion door, and one thread per workflow out (Block Kit notices, approvals).

    commands.py   what `/aidlc ...` and a mention mean: pure parsing and routing by registry
    messages.py   the Block Kit notices for each state change (pure)
    notifier.py   posting them into a workflow's thread through `slack_sdk.WebClient` (rate limits, no duplicates)
    ingress.py    the three endpoints: signature, size, challenge, retries and duplicates, routing, ack

Built on `slack_sdk` primitives rather than slack-bolt: Bolt's lazy listeners (its answer to work past Slack's 3 s)
re-invoke the Lambda itself, which needs `lambda:InvokeFunction` on itself and a second signature check, while our
work already leaves through the task queue inside the ack; and Bolt answers unmatched or malformed requests with
its own statuses (404, 500 from a raising listener), where this door must answer 400/401/413 and never a 5xx.
"""
