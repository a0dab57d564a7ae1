"""The installed app's entry point: the same launcher as the ``tailor`` command."""

import multiprocessing

from desktop.launcher import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    main()
