import sys

from pricecast.cli.main import main

sys.exit(main())
