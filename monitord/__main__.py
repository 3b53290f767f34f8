from monitord.cli.main import main

raise SystemExit(main())
