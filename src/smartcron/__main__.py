from smartcron.cli.main import main

main()
