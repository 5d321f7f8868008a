"""The batch engine: start, claim, send, record, stop and recover runs (plain functions).

Invariants every function here keeps:

* a recipient is marked ``sending`` and committed before its message is sent, and no HTTP
  call happens inside a database transaction;
* one worker drives a run at a time (a lease renewed by a heartbeat);
* a recipient whose message may have reached WhatsApp is never sent again automatically:
  it becomes ``in_doubt`` for an operator (or a delivery webhook) to resolve.
"""
