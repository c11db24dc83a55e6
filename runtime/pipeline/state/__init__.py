"""The pipeline's state on DynamoDB: invocation records (`invocations`), project configuration and the monthly
budget and slot counters (`projects`), the run ledger that settles both in one conditional transaction (`ledger`),
and the attribute-value and transaction helpers they share (`dynamo`). Reservation and settlement are atomic
conditional writes, never read-then-write, so the state layer keeps DynamoDB's transaction items in its interface."""
