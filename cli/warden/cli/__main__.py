from warden.cli.app import main

main()
