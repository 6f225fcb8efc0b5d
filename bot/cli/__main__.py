"""``python -m bot.cli``: the ``sanad`` command without the installed script."""

from bot.cli import main

if __name__ == "__main__":
    main()
