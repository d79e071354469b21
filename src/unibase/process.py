"""What this process is: one command that ends (the console script, ``python -m unibase``,
``python -m unibase.cli``), or a longer life that runs commands in turn (an API user, a test
session). What only pays in the first is done only there (:func:`unibase.check.without_cycle_collection`)."""

one_command = False
