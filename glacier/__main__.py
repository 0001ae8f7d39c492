from glacier.cli import main

main()
