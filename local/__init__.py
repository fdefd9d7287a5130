"""The local stack: real emulators, the trigger relay, functions-framework hosts and provider fakes."""
