from smartcron.entry import main

main()
