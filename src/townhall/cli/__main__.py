"""``python -m townhall.cli``: the same command as the ``townhall`` script."""

from townhall.cli import main

# The guard matters: `serve --workers` spawns processes that import the main module again.
if __name__ == "__main__":
    main()
