"""What register() loads: the sidebar panel, its operators, the properties they edit and the add-on
preferences.

Thin by rule: an operator parses its input into a use case's options and reports the result; the
logic lives in usecases/."""
