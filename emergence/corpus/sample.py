"""The embedded sample corpus: trn.json-shaped records whose true reading age is known.

    >>> from emergence.corpus.sample import generate_sample, sample_path
    >>> rec = next(generate_sample(1, seed=0))
    >>> sorted(rec)
    ['category', 'content', 'target_ind', 'target_rel', 'title', 'true_min_age', 'uid']
    >>> list(generate_sample(3, seed=7)) == list(generate_sample(3, seed=7))
    True
    >>> sample_path().name
    'sample.jsonl.gz'

Each record has the exact schema of the Amazon ``trn.json`` (``uid``, ``title``,
``content``, ``target_ind``, ``target_rel``) plus two fields that never reach training
text: ``true_min_age`` (the minimum reading age in years, a float) and ``category``.

How the sample is built, and why:

- Eight categories (``CATEGORIES``: board books, picture books, early readers, middle grade,
  young adult, children's non-fiction, adult fiction, adult non-fiction and reference) in
  realistic proportions, each with its own distribution of true minimum ages. A category
  holds one or more shelves (subjects) whose titles and descriptions fit together, e.g. a
  cookbook title gets a cookbook description.
- Title vocabulary correlates with the category ("Goodnight", "Peekaboo" for board books;
  "Dragon", "Academy" for middle grade; "Kiss", "Rebel" for young adult; "A Novel",
  "Handbook", "History of" for adults), with deliberate overlap ("Dragon" and "Secret" in
  adult titles, "My First" in children's non-fiction) and ``TITLE_NOISE`` of titles taken
  from another category, so a rule baseline from title words is imperfect but better than
  chance.
- ``EMPTY_SHARE`` (20%) of contents are empty. About ``CUE_SHARE`` (30%) of the non-empty
  contents carry an explicit age cue ("Ages 4-8", "Grade 3-5", "Reading age: 9 - 12
  years", "From School Library Journal: Grade 4-6--", ...) whose minimum age is the true
  age; children's categories carry cues more often than adult ones, as on Amazon. The
  rest carry none, but many carry distractors that a cue detector must not read as ages:
  "20th century", "320 pages", "the Middle Ages", "a 12-year-old boy", years, prices.
- ``ENTITY_SHARE`` of records are written with HTML entities (``&#8211;``, ``&amp;``,
  ``&quot;``) as the raw dump is; ``clean_text`` undoes them.
- ``VARIANT_SHARE`` of records are another edition of a recent book: the same title under
  a new uid, with the same content (a duplicate (title, content) pair), an empty content
  or a rewritten one, because real trn.json titles repeat across product variants.
  Otherwise titles of different books are kept distinct (a redraw when a title is among
  the last ``TITLE_WINDOW``), so held-out titles are mostly unseen in training.

The packaged file (``sample_path()``) is ``write_sample(path, SAMPLE_N, seed=SAMPLE_SEED)``;
regenerate it with ``emergence data sample emergence/data/sample.jsonl.gz``. Generation is
deterministic for a seed (its own ``random.Random(seed)``, no global state) and memory is
bounded whatever ``n`` is.
"""
from __future__ import annotations

import gzip
import json
import random
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Union

__all__ = [
    "CATEGORIES",
    "CUE_SHARE",
    "EMPTY_SHARE",
    "SAMPLE_FILE",
    "SAMPLE_N",
    "SAMPLE_SEED",
    "Category",
    "Shelf",
    "age_cue",
    "cue_rates",
    "generate_sample",
    "sample_path",
    "write_sample",
]

# The packaged sample: 4000 records give about 400 held-out titles at 10% held out (the
# CPU demo needs >= 100) and stay far below 2 MB gzipped.
SAMPLE_FILE = "sample.jsonl.gz"
SAMPLE_N = 4000
SAMPLE_SEED = 0

CUE_SHARE = 0.30  # expected share of non-empty contents that carry an explicit age cue
EMPTY_SHARE = 0.20  # share of first editions with an empty content
VARIANT_SHARE = 0.04  # share of records that are another edition of a recent book
TITLE_NOISE = 0.08  # share of titles drawn from another category's shelves
ENTITY_SHARE = 0.25  # share of first editions written with HTML entities
DISTRACTOR_SHARE = 0.45  # share of descriptions given one distractor sentence
SUBTITLE_SHARE = 0.5  # share of titles given a subtitle or series name
TITLE_WINDOW = 50_000  # titles remembered to keep new books' titles distinct
TITLE_RETRIES = 12  # redraws of a title already in the window before accepting it
LABEL_SPACE = 1_305_265  # labels of LF-Amazon-1.3M: the range of target_ind

# ------------------------------------------------------------------------ slots
# Titles and sentences are format strings over these slots. A slot is drawn once per
# record, on first use, so a title and its description agree ("100 Years of Flight" ...
# "the story of flight"). "{x_l}" is slot x in lower case, "{x_a}" is x after "a"/"an" ("{x_A}": "A"/"An").
Draw = Union[tuple, Callable[[random.Random], str]]


def _pick(rng: random.Random, options: tuple[str, ...]) -> str:
    return options[rng.randrange(len(options))]


SLOTS: dict[str, Draw] = {
    "animal": ("Bunny", "Bear", "Duck", "Puppy", "Kitten", "Owl", "Lamb", "Piglet", "Elephant",
               "Giraffe", "Monkey", "Mouse", "Frog", "Fox", "Penguin", "Hippo", "Tiger",
               "Panda", "Llama", "Whale", "Hedgehog", "Squirrel", "Turtle", "Goose", "Zebra",
               "Koala", "Otter", "Badger", "Moose", "Raccoon", "Walrus", "Sloth", "Beaver",
               "Chick", "Pony", "Seal", "Lion", "Dino"),
    "animals": ("Ducks", "Bears", "Owls", "Monkeys", "Kittens", "Puppies", "Frogs", "Penguins",
                "Pumpkins", "Snowmen"),
    "animal2": ("Bunny", "Bear", "Duck", "Puppy", "Kitten", "Owl", "Lamb", "Mouse", "Frog"),
    "color": ("Red", "Blue", "Yellow", "Green", "Purple", "Orange", "Pink", "Brown"),
    "thing": ("Moon", "Farm", "Bedtime", "Bath Time", "Shapes", "Colors", "Numbers", "Trucks",
              "Kisses", "Hugs", "Snuggles", "Toes", "Noses", "Words", "Opposites", "Sounds",
              "Garden", "Tractor", "Choo-Choo", "Potty", "Snow", "Rain", "Stars", "Bubbles",
              "Boats", "Diggers", "Blocks", "Pajamas", "Lullabies", "Sunshine", "Wiggles",
              "Giggles", "Splashes", "Mittens", "Colors and Shapes"),
    "part": ("Tummy", "Nose", "Tail", "Hat", "Blanket", "Ears", "Mittens"),
    "numw": ("Three", "Four", "Five", "Ten"),
    "n": ("Max", "Lulu", "Olivia", "Harold", "Poppy", "Otis", "Rosie", "Frankie", "Milo",
          "Ruby", "Gus", "Hazel", "Theo", "Mabel", "Ollie", "Ivy", "Leo", "Nora", "Finn", "Zoe",
          "Jasper", "Willa", "Arlo", "Clementine", "Amara", "Kofi", "Priya", "Mateo", "Hugo",
          "Elsie", "Rafi", "Juniper", "Ezra", "Lola", "Oscar", "Pearl", "Felix", "Iris",
          "Wesley", "Greta", "Tomas", "Maisie", "Rufus", "Lena", "Dexter", "Esme", "Kit",
          "Birdie"),
    "n2": ("Sam", "Bea", "Toby", "Pip", "Ada", "Ike", "Dot", "Ned", "Flo", "Abe", "Gil", "Mo",
           "Tess", "Ray", "June", "Lou", "Hal", "Vi", "Cal", "Nell"),
    "s": ("Pinkerton", "Blackwood", "Featherstone", "Quill", "Hartley", "Moreau", "Winslow",
          "Ashford", "Crane", "Delacroix", "Thorne", "Marlowe", "Penhaligon", "Vance", "Okafor",
          "Reyes", "Castellano", "Lindqvist", "Abernathy", "Sato", "Fairweather", "Grimsby",
          "Nakamura", "Oyelaran", "Kowalski", "Brightwater", "Silverton", "McAllister",
          "Fontaine", "Greenleaf", "Holloway", "Ravensworth", "Underhill", "Whitlock", "Zhang",
          "Ibarra", "Lockwood", "Pemberton", "Strand", "Vasquez"),
    "pbadj": ("Grumpy", "Very Busy", "Hungry", "Little", "Brave", "Lonely", "Giant", "Tiny",
              "Noisy", "Sleepy", "Curious", "Silly"),
    "pbwho": ("Wanted to Fly", "Lost Her Hat", "Couldn't Sleep", "Said No", "Loved Books",
              "Was Afraid of the Dark", "Found a Star", "Painted the Sky", "Ate Everything",
              "Wouldn't Share"),
    "pbnoun": ("Purple Crayon", "Big Red Balloon", "Rainy Day", "Magic Boots", "Missing Sock",
               "Wild Wind", "Snowy Night", "Lost Kite", "Moon Boat", "Birthday Cake"),
    "pbplace": ("School", "the Beach", "the Dentist", "the Zoo", "the Library", "Grandma's",
                "the Doctor", "the Farm", "the Moon"),
    "creature": ("Unicorn", "Leprechaun", "Star", "Dragon", "Mermaid", "Snowman", "Monster",
                 "Turkey", "Reindeer"),
    "food": ("Cookie", "Muffin", "Pancake", "Cupcake", "Donut", "Pizza", "Cheese Sandwich"),
    "crowd": ("Crayons", "Dinosaurs", "Teddy Bears", "Clouds", "Socks"),
    "crowdverb": ("Quit", "Came Home", "Went on Strike", "Danced", "Ran Away"),
    "dontlet": ("Drive the Bus!", "Stay Up Late!", "Eat the Cake!", "Ride the Train!"),
    "event": ("The Big Race", "A Snowy Day", "Best Friends", "The Lost Kite", "Fun at the Park",
              "The Class Pet", "Too Many Frogs", "A Rainy Picnic", "The Tooth Fairy",
              "Show and Tell"),
    "series": ("Step into Reading", "I Can Read Level 1", "I Can Read Level 2", "Ready-to-Read",
               "Scholastic Reader, Level 1", "An Acorn Book"),
    "hat": ("Hat", "Boat", "Box", "Sock"),
    "spooky": ("Dinosaurs", "Pirates", "Ghosts", "Mummies", "Tigers"),
    "when": ("Before Dark", "at Midnight", "After Lunch", "in the Morning"),
    "mgadj": ("Lightning", "Midnight", "Emerald", "Forgotten", "Hidden", "Stolen", "Crystal",
              "Clockwork", "Silver", "Vanishing", "Whispering", "Iron"),
    "mgnoun": ("Key", "Map", "Crown", "Compass", "Labyrinth", "Vault", "Scroll", "Tower",
               "Portal", "Library", "Lighthouse", "Sword"),
    # compound place names ("Ravenwood", "Thistlemere"): 24 x 14 of them
    "mgplace": lambda r: _pick(r, ("Raven", "Black", "Thistle", "Willow", "Storm", "Moon", "Star",
                                   "Iron", "Fox", "Grey", "Hollow", "Wyn", "Amber", "Frost",
                                   "Bramble", "Ember", "Copper", "Mist", "Silver", "Oak", "Crow",
                                   "Elder", "Gloom", "Bright"))
    + _pick(r, ("wood", "moor", "fall", "hollow", "haven", "cliff", "mere", "gate", "wick",
                "reach", "stone", "vale", "hold", "spire")),
    "mgplural": ("Explorers", "Misfits", "Guardians", "Inventors", "Detectives", "Outcasts",
                 "Keepers", "Mapmakers"),
    "dragonx": ("Rider", "Keeper", "Quest", "Rising", "Egg", "Guardian"),
    "diaryadj": ("Clumsy", "Nervous", "Wimpy", "Secret"),
    "diaryrole": ("Wizard", "Ninja", "Spy", "Knight", "Superhero"),
    "booknum": lambda r: str(r.randint(1, 6)),
    "yanoun": ("Frost", "Fire", "Deception", "Midnight", "Ashes", "Ruin", "Embers", "Storms",
               "Venom", "Starlight", "Secrets", "Lies", "Thorns", "Wolves", "Crows", "Daggers",
               "Moonlight", "Vengeance", "Silence", "Ravens", "Wildfire", "Salt"),
    "yanoun2": ("Frost", "Fire", "Bone", "Ash", "Shadow", "Storm", "Smoke"),
    "court": ("Court", "Crown", "Throne", "Kingdom", "Song", "House"),
    "of": ("Thorns", "Glass", "Ash", "Blood", "Mist", "Bones", "Smoke"),
    "and": ("Roses", "Stars", "Fury", "Shadow", "Flame", "Silver"),
    "yaadj": ("Cruel", "Stolen", "Wicked", "Forgotten", "Last", "Fallen", "Hollow", "Savage"),
    "yarole": ("Heir", "Queen", "Prince", "Assassin", "Thief", "Witch", "Huntress"),
    "yaverb": ("Shatter", "Unravel", "Ignite", "Divide", "Break", "Haunt", "Find"),
    "rebel": ("Heart", "Queen", "Skies", "Blood", "Spring", "Crown"),
    "shadowsof": ("the Crown", "Ember", "Ruin", "the Fallen", "Glass"),
    "bound": ("Star", "Shadow", "Blood", "Storm", "Night"),
    "trial": ("Blood", "Glass", "Ember", "Iron"),
    "places": ("Bright", "Broken", "Lonely", "Wild"),
    "since": ("Left", "Lied", "Disappeared"),
    "w": ("Evelyn", "Margaret", "Claire", "Celeste", "Harriet", "Josephine", "Vivian", "Rose",
          "Ada", "Eleanor", "Nadia", "Imogen", "Lucia", "Beatrix", "Sylvie", "Marguerite",
          "Annika", "Delphine", "Cora", "Frances", "Isadora", "Louisa", "Mina", "Odette"),
    "afnoun": ("Lighthouse", "Orchard", "Vineyard", "Bookshop", "Manor", "Harbor", "Bridge",
               "River", "Garden", "Ballroom", "Cottage", "Station", "Observatory", "Perfumery",
               "Glasshouse", "Boarding House", "Tea Room", "Chateau", "Clockmaker", "Library",
               "Sanatorium", "Mill", "Embassy", "Hotel"),
    "afrole": ("Wife", "Daughter", "Widow", "Sister", "Keeper", "Mistress", "Secretary",
               "Apprentice", "Physician", "Heiress", "Cartographer", "Translator", "Forger",
               "Governess", "Dressmaker"),
    "afplace": ("Paris", "Savannah", "Cornwall", "Brooklyn", "Tuscany", "Charleston", "Vienna",
                "Montana", "Nantucket", "Prague", "Lisbon", "Havana", "Alexandria", "Budapest",
                "Provence", "Kyoto", "Vermont", "Naples", "Istanbul", "Oslo", "Edinburgh",
                "Seville", "Galway", "Shanghai"),
    "afthing": ("Affair", "Letters", "Secret", "Orphans", "Bakery", "Sisters", "Bride",
                "Winter", "Inheritance", "Apartment", "Promise", "Dressmaker", "Spy"),
    "afadj": ("Silent", "Perfect", "Quiet", "Dangerous", "Last", "Lost", "Other", "Final",
              "Secret"),
    "afwho": ("Patient", "Witness", "Guest", "Sister", "Hour", "Wife", "Neighbor", "Tenant",
              "Stranger", "Passenger", "Nanny", "Houseguest", "Alibi"),
    "plot": ("Deception", "Inheritance", "Betrayal", "Reckoning", "Vanishing", "Confession",
             "Lie", "Obsession", "Silence", "Debt"),
    "where": ("Rivers", "Crawdads", "Lilacs", "Wolves"),
    "wherev": ("Sing", "Run", "Bloom", "Wait"),
    "dragonrep": ("Republic", "Reborn", "Throne"),
    "other": ("The Lighthouse Keeper", "The Paris Letters", "A Quiet Harbor", "The Last Orchard"),
    "ship": ("Battleships", "Fighting Ships", "Aircraft Carriers", "Submarines", "Warships",
             "Cruisers", "Destroyers"),
    "century": ("19th", "20th"),
    "war": ("World War I", "World War II", "the Pacific War", "the Cold War", "the Korean War"),
    "fy": lambda r: (lambda y: f"{y}-{str(y + 1)[2:]}")(r.randint(1960, 2010)),
    "sail": ("The International Annual of the Historic Sailing Ship", "A Maritime History",
             "Ships and Seamen"),
    "hist": ("the Royal Navy", "Flight", "the Automobile", "Jazz", "Baseball", "Medicine",
             "Photography", "Railways", "the Atlantic Liner", "Chemistry", "the Piano",
             "Women's Suffrage", "the Ottoman Empire", "Banking", "the Radio", "Cinema",
             "the Telephone", "Aviation", "the Olympic Games", "Surgery", "Whaling", "Tea",
             "the Printing Press", "the London Underground", "Rock and Roll", "the Bicycle"),
    "ageof": ("Revolution", "Empire", "Extremes", "Capital"),
    "span": lambda r: (lambda y: f"{y}-{y + r.randint(20, 80)}")(r.randint(1750, 1900)),
    "cuisine": ("Italian", "French", "Thai", "Mexican", "Southern", "Vegetarian",
                "Mediterranean", "Slow Cooker", "Baking", "Barbecue", "Gluten-Free"),
    "recipes": ("50", "100", "150", "200", "365"),
    "biz": ("Leadership", "Negotiation", "Project Management", "Marketing", "Strategy",
            "Accounting", "Sales", "Investing", "Productivity", "Real Estate", "Innovation",
            "Corporate Finance", "Supply Chain Management", "Public Speaking", "Hiring"),
    "biz2": ("Culture", "Change", "Growth", "Risk", "Teams", "Trust", "Execution"),
    "laws": ("5", "7", "12", "21"),
    "tech": ("Microsoft Excel 2010", "Python", "JavaScript", "SQL Server 2008", "Photoshop CS5",
             "Linux", "Java", "AutoCAD 2012", "QuickBooks 2011"),
    "country": ("Italy", "Japan", "Ireland", "Peru", "Greece", "Morocco", "Iceland", "Vietnam",
                "Portugal", "Scotland", "Mexico", "Norway", "Croatia", "Chile", "India", "Kenya"),
    "edition": lambda r: str(r.randint(2005, 2014)),
    "cnf": ("Sharks", "Volcanoes", "Dinosaurs", "Space", "Weather", "the Human Body", "Insects",
            "Rainforests", "Planets", "Pyramids", "Knights and Castles", "Snakes", "Oceans",
            "Rocks and Minerals", "Bugs", "Whales", "Robots", "Trains", "Bees", "Bats",
            "Penguins", "Earthquakes", "Mummies", "Vikings", "Coral Reefs", "Spiders",
            "the Solar System", "Hurricanes", "Fossils", "Frogs"),
    "bus": ("Inside", "Lost in", "Explores", "Visits"),
    "person": ("Abraham Lincoln", "Amelia Earhart", "Albert Einstein", "Harriet Tubman",
               "Neil Armstrong", "Marie Curie", "Frida Kahlo", "George Washington",
               "Jackie Robinson", "Galileo", "Rosa Parks", "Thomas Edison", "Sacagawea",
               "Leonardo da Vinci", "Helen Keller", "Roberto Clemente", "Jane Goodall",
               "Benjamin Franklin", "Ada Lovelace", "Wolfgang Amadeus Mozart"),
    "period": ("Colonial Times", "Ancient Egypt", "the Days of the Knights", "Pioneer Days",
               "Ancient Rome", "the Wild West"),
    "facts": ("50", "100", "101", "500"),
    "survived": ("Great Storm", "Shark Attack", "Eruption", "Blizzard"),
    "whatwas": ("the Gold Rush", "the Titanic", "Pompeii", "the Moon Landing"),
    "theme": ("Kindness", "Sharing", "Bedtime", "Courage", "Friendship", "Feelings",
              "Being Brave", "Saying Sorry", "Patience", "Trying New Things", "Family",
              "Making Mistakes", "Starting School", "Gratitude"),
    "ntopic": ("An Illustrated History", "A New History", "The Untold Story", "A Short History",
               "The Complete Reference", "Design, Development and Operations",
               "An Illustrated Encyclopedia", "A Visual History", "The Definitive Guide",
               "A Social History", "From Origins to the Present", "A Global History"),
    "occasion": ("Every Day", "Busy Families", "the Home Cook", "Weeknight Dinners",
                 "Entertaining", "Beginners", "the Holidays", "Two"),
    "how": ("How to Lead in Times of Change", "A Practical Guide", "What Every Manager Needs to Know",
            "Tools and Techniques", "The Essential Guide", "Proven Strategies for Success",
            "A Step-by-Step Approach", "Lessons from the Best Companies"),
    "classic": ("Jane's Battleships of the 20th Century", "Jane's Fighting Ships of World War II",
                "The Ages of Sail", "Life in the Middle Ages", "100 Years of the Royal Navy",
                "A History of the World in 100 Objects", "The Age of Revolution: 1789-1848",
                "Jane's All the World's Aircraft"),
    "author": ("Mo Willems", "Eric Carle", "Sandra Boynton", "Kevin Henkes", "Jan Brett",
               "Oliver Jeffers", "Cynthia Rylant", "Arnold Lobel"),
    "yaauthor": ("Sarah J. Maas", "Leigh Bardugo", "Holly Black", "Marie Lu",
                 "Victoria Aveyard"),
    "rev": ("Kirkus Reviews", "Publishers Weekly", "Booklist", "The Horn Book",
            "The New York Times Book Review", "Library Journal"),
    "quote": ("Irresistible.", "A delight from start to finish.", "Pure magic.",
              "Utterly charming.", "Gripping.", "A triumph.", "Unputdownable.",
              "Wise, funny and moving.", "Essential."),
    "y": lambda r: str(r.randint(1948, 2014)),
    "pg": ("256", "288", "320", "352", "384", "416", "448", "512", "640"),
    "price": ("$9.99", "$14.95", "$29.95", "$45.00", "$59.99"),
}


class _Slots(dict):
    """Slot values for one record, drawn from ``SLOTS`` on first use (str.format_map)."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng

    def __missing__(self, key: str) -> str:
        if key.endswith("_l"):
            value = self[key[:-2]].lower()
        elif key.endswith(("_a", "_A")):
            base = self[key[:-2]]
            value = ("an " if base[0] in "AEIOUaeiou" else "a ") + base
            if key.endswith("_A"):
                value = value[0].upper() + value[1:]
        else:
            draw = SLOTS[key]
            value = draw(self.rng) if callable(draw) else _pick(self.rng, draw)
        self[key] = value
        return value


# ---------------------------------------------------------------- shelves and categories
@dataclass(frozen=True)
class Shelf:
    """A subject within a category: title patterns, description sentences, distractors.

    ``subtitles`` are appended to ``SUBTITLE_SHARE`` of the titles (series names, formats,
    "An Illustrated History"), as on real product pages; they also keep titles of
    different books from colliding, so repeated titles are mostly deliberate editions.
    """

    titles: tuple[str, ...]
    sentences: tuple[str, ...]
    distractors: tuple[str, ...] = ()
    subtitles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Category:
    """A kind of book: its share of first editions, true minimum ages, cue rate, shelves."""

    name: str
    share: float
    ages: tuple[tuple[float, float], ...]  # (true minimum age in years, weight)
    cue_weight: float  # relative chance that a non-empty description carries an age cue
    shelves: tuple[Shelf, ...]


_BOARD = Shelf(
    titles=("Goodnight, {animal}", "Goodnight, {thing}", "Peekaboo {thing}!", "Peekaboo, {animal}!",
            "Little {animal}'s {thing}", "Little {animal}, Little {animal2}",
            "{color} {animal}, {color} {animal2}", "My First {thing}", "Touch and Feel {thing}",
            "Where Is {animal}'s {part}?", "{numw} Little {animals}",
            "Snuggle Up, Little {animal}", "Hush, Little {animal}", "Pat the {animal}",
            "{animal} Says Night-Night", "{animal}'s {thing}", "Little {animal}'s Big {thing}"),
    subtitles=(": A Lift-the-Flap Book", ": A Touch-and-Feel Book", ": A First Words Book",
               ": A Bedtime Book", " ({animal} and Friends)", " (Little {animal} Books)",
               ": A Peekaboo Book", " ({color} {animal} Books)", ": A {thing} Book",
               " (Hello, {animal}!)", ": Counting with {animal}"),
    sentences=(
        "Little ones will love lifting the flaps to find the {animal_l} hiding on every page.",
        "Bright colors and simple words make this a perfect first book.",
        "Sturdy pages stand up to little hands and curious mouths.",
        "A gentle rhyme to share at bedtime, with soft illustrations.",
        "Count, point and say goodnight to everything in the room.",
        "Touch the fuzzy {animal_l} and the shiny moon in this interactive book.",
        "Simple rhymes and rhythm introduce first words and sounds.",
        "From the creator of many beloved books for the very young comes a new favorite.",
        "Peekaboo! Where is the {animal_l}? Turn the page to find out.",
        "A cozy story about love, cuddles and saying goodnight.",
        "Each spread pairs a single word with a bold, friendly picture.",
        "Rounded corners and chunky pages, just right for sharing on a lap.",
    ),
)
_PICTURE = Shelf(
    titles=("The {pbadj} {animal} Who {pbwho}", "{n} and the {pbnoun}", "{n} Goes to {pbplace}",
            "How to Catch a {creature}", "The Day the {crowd} {crowdverb}",
            "Don't Let the {animal} {dontlet}", "If You Give {animal_a} {food_a}",
            "{color_A} Kite for {n}", "The {pbadj} {creature}", "{n}'s {pbnoun}",
            "Llama Llama {thing}", "{n} and the {pbadj} {animal}", "{n}'s {pbadj} {thing}"),
    subtitles=(" ({n} and Friends)", ": A {pbadj} Story", " (The {pbadj} {animal} Series)",
               ": A Story About {theme}", ": A Book About {theme}", " ({animal} and {n})",
               ": A Tale of {theme}"),
    sentences=(
        "{n} has a big problem: a {animal_l} will not stop following {n} everywhere.",
        "When {n} loses the most special thing in the world, only a clever plan will do.",
        "This heartwarming story about friendship is perfect for reading aloud.",
        "With playful art and a surprise ending, this book will have children giggling.",
        "A modern classic about courage, kindness and being yourself.",
        "{n} is not sleepy. Not one bit. But the moon has other ideas.",
        "Award-winning illustrator {author} brings a lovable new character to life.",
        "Sure to become a bedtime favorite for families everywhere.",
        "Full of bright, bold pictures and funny lines to read out loud.",
        "The {animal_l} wants to join the parade, but everyone says a {animal_l} can't march.",
        "A joyful celebration of imagination and play.",
    ),
    distractors=("Now in a special 25th anniversary edition.", "Over 3 million copies sold."),
)
_EARLY = Shelf(
    titles=("{n} and {n2}: {event}", "{n} and the {pbnoun} ({series})",
            "{n} the {animal} Goes to School", "{n} Loves {thing} ({series})",
            "The {animal} in the {hat}", "Go, {animal}, Go!", "See {n} Run", "{spooky} {when}",
            "{n} {s}: {event}", "{event} ({series})", "{n} and the {pbadj} {animal}"),
    subtitles=(" ({series})", ": A {pbadj} Adventure", " ({n} and {n2}, Book {booknum})",
               " ({n} {s}, Book {booknum})", " ({series}: {n} and {animal})"),
    sentences=(
        "{n} and {n2} are best friends, and today they are going on an adventure.",
        "Short sentences and familiar words help new readers build confidence.",
        "Kids who are just learning to read will cheer for {n} in this funny story.",
        "Four short chapters are just right for reading on your own.",
        "{n} wants a pet. Mom says a fish. {n} wants something bigger.",
        "Simple text and lively pictures make reading fun.",
        "When the class hamster goes missing, {n} is on the case.",
        "Perfect for shared reading at home or in the classroom.",
        "With word lists and fun activities at the back of the book.",
        "The series that has helped millions of children learn to read.",
    ),
    distractors=("Book 12 in the series.",),
)
_MIDDLE = Shelf(
    titles=("{n} {s} and the {mgadj} {mgnoun}", "The Secret of {mgplace}",
            "{mgplace} Academy: The {mgadj} {mgnoun}", "Dragon {dragonx}",
            "The Last Dragon {dragonx}", "Diary of a {diaryadj} {diaryrole}",
            "The {mgadj} {mgplural} of {mgplace}", "{n} {s}, Monster Hunter",
            "Escape from {mgplace}", "The {mgplural} (Book {booknum})",
            "The Mysterious {mgnoun} of {mgplace}", "Secret Academy: {mgadj} {mgnoun}",
            "{n} {s} and the Dragon of {mgplace}", "The {mgadj} Dragon of {mgplace}"),
    subtitles=(" ({mgplace} Chronicles, Book {booknum})", " (The {mgplural} of {mgplace}, Book {booknum})",
               " (The {mgadj} {mgnoun} Trilogy, Book {booknum})", ": The {mgadj} {mgnoun}",
               " ({n} {s}, Book {booknum})", " ({mgplace} Academy, Book {booknum})"),
    sentences=(
        "{n} {s} never believed in magic, until the night a door appeared at the end of the hall.",
        "Now {n} must find the {mgadj_l} {mgnoun_l} before the secret of {mgplace} is lost forever.",
        "Packed with puzzles, danger and friendship, this is an adventure to remember.",
        "A sweeping fantasy for fans of dragons, wizards and hidden worlds.",
        "When a mysterious letter arrives, {n} is sent to a school unlike any other.",
        "{n} and friends must race against time to save {mgplace}.",
        "Funny, heartfelt and full of surprises, the second book in the series is even better than the first.",
        "Map in hand, {n} sets out across the mountains with a talking {animal_l}.",
        "Winner of the {y} Newbery Medal.",
        "An unforgettable story about family, loyalty and finding where you belong.",
        "Readers who love riddles will devour this clever mystery.",
        "Nobody at {mgplace} Academy knows that {n} can hear what the dragons say.",
    ),
    distractors=("Over 5 million copies sold worldwide.", "Book 2 in the bestselling series, {pg} pages.",
                 "The year is {y}, and the circus has come to town."),
)
_YA = Shelf(
    titles=("Kiss of {yanoun}", "Rebel {rebel}", "Shadows of {shadowsof}",
            "A {court} of {of} and {and}", "The {yaadj} {yarole}", "{yaverb} Me", "{bound}bound",
            "The {trial} Trials", "All the {places} Places", "Since You {since}", "Dear {n}",
            "{yanoun} and {yanoun2}", "The Secret {yarole}", "Kiss of the {yaadj} {yarole}",
            "Rebel of {mgplace}", "Shadows of {mgplace}"),
    subtitles=(" (The {yanoun} Saga, Book {booknum})", " ({court} of {of}, Book {booknum})",
               ": {yanoun_A} Novel", " (The {yaadj} {yarole} Trilogy, Book {booknum})",
               " (The {mgplace} Chronicles, Book {booknum})", ": A {court} of {yanoun} Novel"),
    sentences=(
        "{w} has spent her whole life hiding what she is.",
        "But when the prince she was sent to kill offers her a bargain, everything changes.",
        "In a kingdom ruled by fear, one girl will risk everything to set it free.",
        "A lush, romantic fantasy full of betrayal, desire and dangerous magic.",
        "The stunning sequel to the New York Times bestseller.",
        "{w} thought senior year would be simple. Then she met the new boy.",
        "An achingly honest novel about grief, first love and starting over.",
        "Now the rebellion needs a leader, and {w} is the only one left.",
        "Perfect for fans of {yaauthor} and epic fantasy with a sharp edge.",
        "Secrets, lies and one unforgettable summer.",
        "A pulse-pounding thriller with a twist you will never see coming.",
    ),
    distractors=("At 16, {w} is the youngest recruit the guard has ever accepted.",
                 "The story of a 12-year-old boy, told by the sister who never stopped looking for him.",
                 "Over 2 million copies sold.", "A standalone novel of {pg} pages."),
)
_ADULT_LITERARY = Shelf(
    titles=("The {afnoun} {afrole}: A Novel", "The {afplace} {afthing}: A Novel",
            "The Girl in the {afnoun}: A Novel", "{w}'s {afnoun}: A Novel",
            "Where the {where} {wherev}: A Novel", "A Kiss in {afplace}: A Novel",
            "The Secret {afrole}: A Novel", "The {afrole} of {afplace}: A Novel",
            "The Girl from {afplace}: A Novel", "The {afnoun} at {mgplace}: A Novel",
            "A {afadj} {afthing} in {afplace}: A Novel"),
    sentences=(
        "{w} {s} has built a quiet life in {afplace}, far from the scandal that ruined her family.",
        "When a letter arrives from a sister she has not seen in twenty years, the past comes calling.",
        "A sweeping, heartbreaking novel of love and war, from the bestselling author of {other}.",
        "Set against the glittering backdrop of {afplace} in the 1920s, this is a story of ambition and betrayal.",
        "Spanning three generations of women, this is a novel about the secrets families keep.",
        "An instant New York Times bestseller and a book club favorite.",
        "Lyrical and devastating, it is a novel for anyone who has ever loved and lost.",
        "Told in alternating voices, it moves between {afplace} in {y} and the present day.",
    ),
    distractors=("It is 1944, and the war has reached the village.",
                 "Set in the 20th century, it follows one family through two wars.",
                 "Her 16-year-old daughter knows more than she is saying."),
)
_ADULT_THRILLER = Shelf(
    titles=("The {afadj} {afwho}", "A {afadj} {plot}: A Thriller",
            "The {afplace} Murders (A {w} {s} Mystery)", "Shadows over {afplace}",
            "The Dragon {dragonrep}", "Rebel {plot}: A Thriller", "The {afadj} {afwho} of {afplace}",
            "The {afplace} {plot}: A Thriller", "{w} {s} Must Die"),
    subtitles=(" (A {w} {s} Thriller, Book {booknum})", ": A Novel", ": A Thriller",
               " (The {afplace} Quartet, Book {booknum})", " (Detective {w} {s}, Book {booknum})"),
    sentences=(
        "Detective {w} {s} has seen everything, until a body turns up in the {afnoun_l}.",
        "A gripping psychological thriller that will keep you guessing until the final page.",
        "Nobody in {afplace} is who they seem, and someone is watching.",
        "The most twisted, shocking thriller of the year.",
        "{w} {s} has one week to find the truth before the killer strikes again.",
        "A dark, propulsive novel of obsession and revenge.",
    ),
    distractors=("When a 12-year-old boy disappears from a small town, old wounds reopen.",
                 "A novel of {pg} pages that readers will finish in a single night."),
)
_MILITARY = Shelf(
    titles=("{classic}", "Jane's {ship} of the {century} Century", "Jane's Fighting Ships {fy}",
            "{ship} of {war}", "The Ages of Sail: {sail}", "A History of {ship_l} in {war}",
            "{ship} of the {mgplace} Class", "The Battle of {afplace}, {y}"),
    subtitles=(": {ntopic}",),
    sentences=(
        "This authoritative reference covers every major design from the dreadnought era to the present.",
        "Illustrated with more than 500 photographs, line drawings and detailed specifications.",
        "Each entry gives displacement, armament, armour and service history.",
        "Essential reading for naval historians, modellers and enthusiasts alike.",
        "The definitive account of the {ship_l} of {war}.",
        "Compiled by the editors of the world's leading defence reference.",
    ),
    distractors=("It traces the development of the battleship through the 20th century.",
                 "An account of the great age of sail, from the 1840s to the 1880s.",
                 "Hardcover, {pg} pages, with an index and bibliography."),
)
_HISTORY = Shelf(
    titles=("100 Years of {hist}", "A History of {hist}", "The Story of {hist}", "{classic}",
            "The Age of {ageof}: {span}", "{w} {s}: A Life", "{hist} in {afplace}",
            "The Rise and Fall of {hist}"),
    subtitles=(": {ntopic}", ": From {y} to the Present"),
    sentences=(
        "The definitive account of {hist_l}, drawing on archives opened only in {y}.",
        "Written by a leading historian, it is both scholarly and highly readable.",
        "A sweeping narrative of ambition, invention and disaster across four centuries.",
        "Essential reading for students and general readers alike.",
        "Winner of the Pulitzer Prize for History.",
        "With maps, a chronology and sixteen pages of photographs.",
    ),
    distractors=("From the Middle Ages to the modern era, no detail is overlooked.",
                 "The story begins in {y} and spans more than 100 years of history.",
                 "A handsome volume of {pg} pages."),
)
_COOKERY = Shelf(
    titles=("The Complete {cuisine} Cookbook", "Mastering the Art of {cuisine} Cooking",
            "{recipes} Easy {cuisine} Recipes", "The {cuisine} Kitchen Handbook",
            "Cooking from {afplace}", "The {afnoun} Kitchen"),
    subtitles=(": {recipes} Recipes for {occasion}", ": Recipes for {occasion}",
               ": Simple {cuisine} Food for {occasion}"),
    sentences=(
        "More than 200 recipes, from quick weeknight dinners to showstopping desserts.",
        "Every recipe has been tested in a home kitchen and comes with a full-color photograph.",
        "Learn the techniques behind classic {cuisine_l} dishes, step by step.",
        "Includes menus for holidays, shopping lists and a guide to the pantry.",
        "The cookbook that taught a generation how to cook.",
    ),
    distractors=("Only Grade A eggs and seasonal produce are used throughout.",
                 "Serves 4 to 6; ready in 30 minutes.", "Now in its 3rd edition, priced at {price}."),
)
_BUSINESS = Shelf(
    titles=("The {biz} Handbook", "Principles of {biz}", "The {laws} Laws of {biz}",
            "{tech} Step by Step", "Learning {tech}: A Handbook for Professionals",
            "{biz} for Managers", "The {afadj} Art of {biz}", "{biz} and {biz2}"),
    subtitles=(": {how}", " ({edition} Edition)"),
    sentences=(
        "Each chapter includes practical exercises, case studies and checklists for managers.",
        "Step-by-step instructions and screenshots guide you through every task.",
        "The essential guide for anyone who wants to master {biz_l}.",
        "Used by more than 1,000 companies and business schools.",
        "Clear, practical and packed with real-world examples.",
    ),
    distractors=("Fully revised for {edition}.", "A {pg}-page guide, list price {price}."),
)
_TRAVEL = Shelf(
    titles=("Lonely Planet {country} (Travel Guide)", "Fodor's {country} {edition}",
            "The Rough Guide to {country}", "Walking in {country}", "{afplace} Day by Day"),
    subtitles=(" ({edition} Edition)", ": The Complete Guide"),
    sentences=(
        "Fully updated, with new maps, listings and insider tips for {country}.",
        "Honest reviews of hotels and restaurants for every budget.",
        "Suggested itineraries help you plan the perfect trip.",
        "Color photographs and pull-out maps throughout.",
    ),
    distractors=("Updated for {edition}, {pg} pages.",),
)
_CHILD_NF = Shelf(
    titles=("National Geographic Kids Everything {cnf}", "The Magic School Bus {bus} {cnf}",
            "Who Was {person}?", "If You Lived in {period}", "{facts} Amazing Facts About {cnf}",
            "The Big Book of {cnf}", "My First Book of {cnf}", "I Survived the {survived}",
            "What Was {whatwas}?", "A Kid's History of {cnf}", "All About {cnf}",
            "The Amazing World of {cnf}"),
    subtitles=(" (National Geographic Readers)", " (Who Was?)", ": {facts} Facts Kids Want to Know",
               " (DK Eyewitness Books)", " (Let's-Read-and-Find-Out Science)", ": A True Book"),
    sentences=(
        "Packed with amazing photos and fun facts about {cnf_l}.",
        "Young readers will discover how {cnf_l} shaped the world we live in.",
        "Ms. Frizzle and her class climb aboard for another wild field trip.",
        "Easy-to-read text, maps and diagrams make learning about {cnf_l} fun.",
        "Includes a timeline, glossary and ideas for school projects.",
        "Did you know? This book answers all the questions curious kids ask.",
        "The true story of {person}, told in lively chapters with black-and-white illustrations.",
        "Perfect for reports, homework or just reading for fun.",
    ),
    distractors=("Learn how castles were built in the Middle Ages.",
                 "Discover what life was like in the 20th century.", "Over 100 full-color photographs."),
)

CATEGORIES: tuple[Category, ...] = (
    Category("board_book", 0.10, ((0.0, 0.35), (0.5, 0.15), (1.0, 0.30), (2.0, 0.20)), 1.0,
             (_BOARD,)),
    Category("picture_book", 0.17, ((3.0, 0.35), (4.0, 0.40), (5.0, 0.25)), 1.2, (_PICTURE,)),
    Category("early_reader", 0.10, ((5.0, 0.40), (6.0, 0.40), (7.0, 0.20)), 1.2, (_EARLY,)),
    Category("middle_grade", 0.16,
             ((8.0, 0.40), (9.0, 0.25), (10.0, 0.25), (11.0, 0.05), (12.0, 0.05)), 1.2, (_MIDDLE,)),
    Category("young_adult", 0.12, ((12.0, 0.35), (13.0, 0.30), (14.0, 0.35)), 1.0, (_YA,)),
    Category("children_nonfiction", 0.08,
             ((6.0, 0.25), (7.0, 0.25), (8.0, 0.30), (9.0, 0.10), (10.0, 0.10)), 1.0, (_CHILD_NF,)),
    Category("adult_fiction", 0.14, ((18.0, 1.0),), 0.08, (_ADULT_LITERARY, _ADULT_THRILLER)),
    Category("adult_nonfiction", 0.13, ((18.0, 1.0),), 0.0,
             (_MILITARY, _HISTORY, _COOKERY, _BUSINESS, _TRAVEL)),
)


def cue_rates() -> dict[str, float]:
    """Per category, the chance that a non-empty description carries an age cue.

    The relative ``cue_weight`` is scaled so that the expected share over all non-empty
    descriptions is ``CUE_SHARE``.
    """
    total = sum(c.share * c.cue_weight for c in CATEGORIES)
    return {c.name: min(1.0, CUE_SHARE * c.cue_weight / total) for c in CATEGORIES}


# ------------------------------------------------------------------------- age cues
def _grade(age: float) -> str | None:
    # School grades are ages minus 5 (K = 5, PreK = 4), the convention of emergence.agecues.
    if age != int(age) or not 4 <= age < 18:
        return None
    return {4: "PreK", 5: "K"}.get(int(age), str(int(age) - 5))


def age_cue(rng: random.Random, age: float, category: str) -> tuple[str, str]:
    """An explicit cue whose minimum age is ``age``: ``(text, where)``.

    ``where`` is ``"prefix"`` (opens the description), ``"suffix"`` (closes it) or
    ``"slj"`` (a School Library Journal review header glued to the first sentence).
    """
    if age >= 18:
        return rng.choice(("For ages 18 and up.", "Recommended for ages 18+.",
                           "Written for adult readers.")), "suffix"
    if age == 0.5:
        dash = rng.choice(("–", "-"))
        return f"Ages 6 months{dash}{rng.choice((2, 3))} years.", "suffix"
    a = str(int(age))
    top = int(age) + (rng.choice((2, 3, 4)) if age < 12 else rng.choice((3, 4, 5)))
    forms = [
        (f"Ages {a}-{top}.", "suffix"), (f"Ages {a}-{top}.", "prefix"),
        (f"For ages {a} to {top}.", "suffix"), (f"Perfect for ages {a} and up.", "suffix"),
        (f"Reading age: {a} - {top} years.", "suffix"), (f"Age Range: {a} - {top} Years.", "suffix"),
    ]
    if age >= 3:
        forms.append((f"Recommended for ages {a}+.", "suffix"))
    # Word labels, at the age emergence.agecues gives each (the floor of the band it names).
    forms += {0.0: [("A sturdy board book for babies.", "suffix")],
              9.0: [("A middle grade adventure.", "prefix")],
              13.0: [("A young adult novel.", "suffix"), ("For teen readers.", "suffix")],
              }.get(age, [])
    grade = _grade(age)
    if grade is not None:
        top_grade = max(int(age) - 5, 0) + rng.choice((2, 3))
        forms.append((f"{rng.choice(('Grade', 'Grades'))} {grade}-{top_grade}.", "suffix"))
        if category != "board_book":
            forms += [(f"From School Library Journal: Grade {grade}-{top_grade}--", "slj")] * 2
    return rng.choice(forms)


# --------------------------------------------------------------------- the generator
def _isbn10(body: int) -> str:
    digits = f"{body:09d}"
    check = (11 - sum((10 - i) * int(d) for i, d in enumerate(digits)) % 11) % 11
    return digits + ("X" if check == 10 else str(check))


def _entities(text: str) -> str:
    # How the raw dump escapes text; emergence.corpus.records.clean_text undoes it.
    return (text.replace("&", "&amp;").replace('"', "&quot;").replace("–", "&#8211;")
            .replace("—", "&#8212;").replace("'", "&#39;"))


class _Writer:
    """Titles, descriptions and labels for one generation run (one rng)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cue_rates = cue_rates()
        # Related-product labels cluster by category, as in the real target_ind.
        self.labels = {c.name: sorted(rng.sample(range(LABEL_SPACE), 400)) for c in CATEGORIES}

    def title(self, category: Category, shelf: Shelf, slots: _Slots) -> str:
        r = self.rng
        if r.random() < TITLE_NOISE:  # a title that reads like another category's
            other = r.choice([c for c in CATEGORIES if c is not category])
            shelf = r.choice(other.shelves)
        title = r.choice(shelf.titles).format_map(slots)
        if shelf.subtitles and r.random() < SUBTITLE_SHARE:
            subtitle = r.choice(shelf.subtitles)
            # one parenthesis and one colon are plenty
            if not ((title.endswith(")") and subtitle.startswith(" ("))
                    or (": " in title and subtitle.startswith(":"))):
                title += subtitle.format_map(slots)
        return title

    def description(self, category: Category, shelf: Shelf, slots: _Slots, title: str,
                    age: float) -> str:
        r = self.rng
        pool = list(shelf.sentences)
        r.shuffle(pool)
        if shelf.distractors and r.random() < DISTRACTOR_SHARE:
            pool.insert(r.randrange(3), r.choice(shelf.distractors))
        if r.random() < 0.3:  # descriptions often open by repeating the title
            pool.insert(0, title if title[-1] in "!?." else f"{title}.")
        target = r.randint(30, 90)  # words; real ones run longer, the CPU demo wants short
        parts: list[str] = []
        words = 0
        for sentence in pool:
            if words >= target:
                break
            parts.append(sentence.format_map(slots))
            words += len(parts[-1].split())
        if r.random() < 0.3:  # a review line, as on product pages
            parts.append(f'"{slots["quote"]}" —{slots["rev"]}')
        if r.random() < self.cue_rates[category.name]:
            text, where = age_cue(r, age, category.name)
            if where == "prefix":
                parts.insert(0, text)
            elif where == "slj":
                parts[0] = text + parts[0]
            else:
                parts.append(text)
        return " ".join(parts)

    def targets(self, category: Category) -> list[int]:
        r = self.rng
        k = min(1 + int(r.expovariate(1 / 3.0)), 25)
        pool = self.labels[category.name]
        # mostly the category's own labels, now and then a stray one from anywhere
        return sorted({pool[r.randrange(len(pool))] if r.random() < 0.9 else r.randrange(LABEL_SPACE)
                       for _ in range(k)})


def generate_sample(n: int, *, seed: int = 0) -> Iterator[dict]:
    """Yield ``n`` trn.json-schema records, each with ``true_min_age`` and ``category``.

    Deterministic for ``seed``. Memory is bounded (the last 200 books are kept for
    repeated editions, the last ``TITLE_WINDOW`` titles to keep new ones distinct, a few
    MB), so ``n`` may be millions; at most 10**8, because uids are an
    affine permutation of eight digits (unique without remembering the ones used) behind
    a language-group digit and before an ISBN-10 check digit.

    The title patterns hold a few hundred thousand distinct titles, so titles of
    different books stay distinct up to some 10**4 records (4.0% repeated titles at
    4,000, all but a few of them deliberate editions); large samples, which suit loader
    benchmarks, repeat titles more (23% at 200,000).
    """
    if not 0 <= n <= 10**8:
        raise ValueError(f"n must be in [0, 10**8], got {n}")
    rng = random.Random(seed)
    writer = _Writer(rng)
    weights = [c.share for c in CATEGORIES]
    mult = rng.randrange(1, 10**8, 2)
    while mult % 5 == 0:  # coprime with 10**8, so i -> mult * i + off is a permutation
        mult = rng.randrange(1, 10**8, 2)
    off = rng.randrange(10**8)
    recent: deque[tuple[Category, float, str, str, Shelf]] = deque(maxlen=200)
    used_titles: dict[str, None] = {}  # insertion-ordered: the oldest goes first
    for i in range(n):
        group = rng.choice((0, 0, 0, 1, 1, 3, 4, 8))
        uid = _isbn10(group * 10**8 + (mult * i + off) % 10**8)
        if recent and rng.random() < VARIANT_SHARE:
            category, age, title, first, shelf = rng.choice(recent)
            roll = rng.random()
            if roll < 0.45:
                content = first  # the same description on another edition: a duplicate pair
            elif roll < 0.75:
                content = ""
            else:
                content = writer.description(category, shelf, _Slots(rng), title, age)
        else:
            category = rng.choices(CATEGORIES, weights=weights)[0]
            age = rng.choices([a for a, _ in category.ages], weights=[w for _, w in category.ages])[0]
            shelf = rng.choice(category.shelves)
            # Different books rarely share a title: redraw one already used recently, so
            # repeated titles are (nearly all) the deliberate editions above.
            for _ in range(TITLE_RETRIES):
                slots = _Slots(rng)
                title = writer.title(category, shelf, slots)
                if title not in used_titles:
                    break
            used_titles[title] = None
            if len(used_titles) > TITLE_WINDOW:
                del used_titles[next(iter(used_titles))]
            content = ("" if rng.random() < EMPTY_SHARE
                       else writer.description(category, shelf, slots, title, age))
            if rng.random() < ENTITY_SHARE:
                title, content = _entities(title), _entities(content)
            recent.append((category, age, title, content, shelf))
        targets = writer.targets(category)
        yield {
            "uid": uid,
            "title": title,
            "content": content,
            "target_ind": targets,
            "target_rel": [1.0] * len(targets),
            "true_min_age": float(age),
            "category": category.name,
        }


def _dumps(record: dict) -> str:
    # Compact, keys in generation order, non-ASCII kept: the shape of real trn.json lines.
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def write_sample(path: str | Path, n: int, *, seed: int = 0) -> Path:
    """Write ``generate_sample(n, seed=seed)`` as JSON Lines to ``path``; gzip if it ends .gz.

    The gzip header carries no file name and no time stamp, so the same ``n`` and ``seed``
    give the same decompressed bytes (and the same file, for one zlib).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw:
        out = (gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
               if path.name.endswith(".gz") else raw)
        try:
            for record in generate_sample(n, seed=seed):
                out.write((_dumps(record) + "\n").encode("utf-8"))
        finally:
            if out is not raw:
                out.close()
    return path


def sample_path() -> Path:
    """The packaged sample (``SAMPLE_N`` records, seed ``SAMPLE_SEED``): the embedded default."""
    from importlib.resources import files

    resource = files("emergence") / "data" / SAMPLE_FILE
    if isinstance(resource, Path):
        return resource
    # A zipped install has no file system path: copy the file once into the user cache.
    from platformdirs import user_cache_dir

    target = Path(user_cache_dir("emergence")) / SAMPLE_FILE
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(resource.read_bytes())
    return target
