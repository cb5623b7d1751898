"""One module per command; importing this package adds them all to the `credctl` group."""

from credctl.cli.commands import (  # noqa: F401
    diff,
    doctor,
    env,
    get,
    import_rows,
    init,
    log,
    plan,
    policy,
    remind,
    reports,
    rotate,
    run,
    scan,
    set_value,
    validate,
)
