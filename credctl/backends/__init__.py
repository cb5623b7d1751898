"""The secret stores and everything about them.

`base` the protocol every store implements and its optional capabilities;
`config` each store's options; `registry` the store types, from which validation,
reference schemes and messages derive; `pool` opening them; `calls` the wrapper
every network request goes through; `local`, `aws`, `vault` the stores.
"""
