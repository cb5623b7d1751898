"""Rotation: the staged protocol (`protocol`), the rotators (`rotators`), their commands
(`steps`), and `credctl rotate` over many credentials (`driver`)."""
