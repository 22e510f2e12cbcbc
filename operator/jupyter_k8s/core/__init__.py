"""The typed core the Kopf handlers feed: the indexes' views, the one work queue, a pass per
kind (read the indexes, plan with the pure functions of reconcile/, apply, write the status),
the applier and the caches. Nothing here registers with Kopf; handlers/ only says when."""
